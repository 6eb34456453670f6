"""Thin adapter: Freqtrade's own validation of a generated config (imports Freqtrade).

``freqtrade trade`` validates the config after loading the strategy, which supplies the
keys a strategy owns (``timeframe``, ``minimal_roi``).  Here those two come from the
strategy's source, read with :mod:`ast` (the strategy is never executed), then
``validate_config_consistency`` runs in the stage's run mode (dry_run for paper, live
otherwise), exactly the checks Freqtrade applies at start-up.
"""

from __future__ import annotations

import ast
import contextlib
from copy import deepcopy
from pathlib import Path
from typing import Any

STRATEGY_OWNED = ("timeframe", "minimal_roi")


def strategy_attributes(strategies_dir: Path, class_name: str) -> tuple[Path, dict[str, Any]]:
    """Find ``class <class_name>(`` in ``strategies_dir/*.py``; return its literal attributes.

    Raises FileNotFoundError (one clear line) when no file defines the class.
    """
    needle = f"class {class_name}("
    candidates = sorted(strategies_dir.glob("*.py")) if strategies_dir.is_dir() else []
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if needle not in text:
            continue
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            raise FileNotFoundError(
                f"{path}: does not parse ({exc.msg}, line {exc.lineno})"
            ) from None
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == class_name:
                return path, _literal_attrs(node)
    raise FileNotFoundError(
        f"{strategies_dir}: no file defines class {class_name} (strategy ids map to class "
        "names by dropping the dash: STR-001 -> STR001)"
    )


def _literal_attrs(node: ast.ClassDef) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stmt in node.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = list(stmt.targets), stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in STRATEGY_OWNED and value:
                with contextlib.suppress(ValueError):
                    out[target.id] = ast.literal_eval(value)
    return out


def freqtrade_problems(config: dict[str, Any], strategy_attrs: dict[str, Any]) -> list[str]:
    """Run Freqtrade's ``validate_config_consistency``; return its complaint, if any."""
    from freqtrade_exec_ext.compat import PAIRLISTS as PACKAGE_PAIRLISTS
    from freqtrade_exec_ext.compat.data import config_consistency_problem

    # A process that installed our registry (compat.install) accepts our pairlist names in
    # Freqtrade's schema enum; a stock `freqtrade backtesting` validates before any strategy
    # is loaded and rejects them.  Check against the built-in list explicitly.
    for idx, entry in enumerate(config.get("pairlists") or []):
        method = entry.get("method") if isinstance(entry, dict) else None
        if method in PACKAGE_PAIRLISTS:
            msg = (
                f"pairlists[{idx}].method: {method} is not built into Freqtrade, whose schema "
                "rejects it before the strategy loads; it belongs under exec_ext.pairlists"
            )
            return [msg]
    conf = deepcopy(config)
    for key, value in strategy_attrs.items():
        conf.setdefault(key, value)
    runmode = "dry_run" if conf.get("dry_run") else "live"
    if any(k not in conf for k in STRATEGY_OWNED):
        # the strategy computes them: validate what the file alone must satisfy
        runmode = "other"
    problem = config_consistency_problem(conf, runmode)
    return [f"Freqtrade rejects it: {problem}"] if problem else []
