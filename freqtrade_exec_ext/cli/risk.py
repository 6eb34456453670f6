"""``freqtrade-exec risk check PATH``: validate a risk contract and print its limits."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    risk = sub.add_parser("risk", help="risk contract (risk-assessment.yaml) tools")
    risk_sub = risk.add_subparsers(dest="risk_command", metavar="ACTION")
    risk_sub.required = True
    check = risk_sub.add_parser(
        "check",
        help="validate a risk-assessment.yaml and print its normalized limits",
        description="Exit 0 and print the limits when the file is valid; otherwise print "
        "one line per problem to stderr and exit 2.",
    )
    check.add_argument("path", help="path to risk-assessment.yaml")
    check.add_argument("--json", action="store_true", help="print the normalized contract as JSON")
    check.set_defaults(func=run_check)
    init = risk_sub.add_parser(
        "init",
        help="write a commented risk-assessment.yaml for a strategy (new or being ported)",
        description="Write .crypto/knowledge/strategies/STR-NNN/risk-assessment.yaml. With "
        "--from-strategy, the strategy's stoploss, trailing, order types, stop on the "
        "exchange, time in force, short selling and leverage are carried over (the file is "
        "read, never run); with --config, the stake, trades, wallet and market. What cannot "
        "be carried over is listed with the reason.",
    )
    init.add_argument("strategy_id", help="e.g. STR-002")
    init.add_argument("--from-strategy", metavar="FILE", help="a Freqtrade strategy .py file")
    init.add_argument("--config", metavar="FILE", help="a Freqtrade config.json (stake, wallet)")
    init.add_argument(
        "--stoploss",
        type=float,
        metavar="X",
        help="the stop-loss (a price move, e.g. -0.10) when the strategy has none",
    )
    init.add_argument("--root", default=".", help="project root holding .crypto/ (default: .)")
    init.add_argument("--force", action="store_true", help="replace an existing contract")
    init.set_defaults(func=run_init)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_check(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.contract import field_docs, load_contract

    contract = load_contract(args.path)
    model_line = _backtest_model_line(args.path, contract)
    if args.json:
        print(json.dumps(contract.normalized(), indent=2, sort_keys=False))
        return 0

    from rich.console import Console
    from rich.table import Table

    docs = {row[0]: row for row in field_docs()}
    values = _flatten(contract.normalized())
    table = Table(title=f"{contract.strategy_id}: risk limits ({args.path})")
    table.add_column("field", style="cyan", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("set", justify="center")
    set_fields = _explicit_fields(contract)
    for path, value in values.items():
        unit = docs[path][4] if path in docs else ""
        shown = json.dumps(value) if not isinstance(value, str) else value
        table.add_row(path, shown, unit, "file" if path in set_fields else "default")
    Console(width=110).print(table)
    for line in _stop_lines(contract):
        print(line)
    if model_line:
        print(model_line)
    fingerprint = contract.fingerprint()[:12]
    print(f"OK: {args.path} is a valid version-1 risk contract (fingerprint {fingerprint})")
    return 0


def _backtest_model_line(path: str, contract: Any) -> str:
    """slippage.backtest_model must exist and be a model this package reads (exit 2)."""
    value = contract.slippage.backtest_model
    if not value:
        return ""
    from freqtrade_exec_ext.calibration.apply import model_path
    from freqtrade_exec_ext.calibration.model import ModelError, load
    from freqtrade_exec_ext.cli.errors import CliError

    target = model_path(path, value)
    try:
        model = load(target)
    except ModelError as exc:
        raise CliError(f"{path}: slippage.backtest_model: {exc}") from None
    p = model.provenance
    return (
        f"backtest model: {target} ({model.market}, {p.fills} fills, "
        f"{p.period_start} .. {p.period_end})"
    )


def _stop_lines(contract: Any) -> list[str]:
    """What the stop means in money: the price move, and on futures the loss on margin
    at leverage.max and the estimated liquidation."""
    stop = abs(contract.stop_loss.stoploss)
    if not contract.is_futures:
        return [f"stop-loss: {stop:.2%} below the entry price (a long; above for a short)"]
    from freqtrade_exec_ext.compat.exchange import maintenance_margin_estimate
    from freqtrade_exec_ext.execution.stops import loss_on_margin

    lev = contract.leverage.max
    _, how = maintenance_margin_estimate(contract.market.exchange, lev)
    margin = loss_on_margin(stop, lev)
    move = contract.liquidation_move()
    return [
        (
            f"stop-loss: a {stop:.2%} price move from the entry at any leverage; at "
            f"leverage.max {lev:g}x that is {margin:.2%} of the trade's margin"
        ),
        f"liquidation at {lev:g}x: about a {move:.2%} move (maintenance margin {how})",
    ]


def _explicit_fields(model: Any, prefix: str = "") -> set[str]:
    from pydantic import BaseModel

    out: set[str] = set()
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out |= _explicit_fields(value, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out


def run_init(args: argparse.Namespace) -> int:
    import os
    import re
    import tempfile
    from pathlib import Path

    from freqtrade_exec_ext.cli.errors import CliError
    from freqtrade_exec_ext.contract import CONTRACT_FILENAME, load_contract, strategy_dir
    from freqtrade_exec_ext.contract.model import STRATEGY_ID_PATTERN
    from freqtrade_exec_ext.contract.template import TemplateError, build, read_strategy

    if not re.match(STRATEGY_ID_PATTERN, args.strategy_id):
        raise CliError(f"strategy id {args.strategy_id!r}: must be STR- and 3 or more digits")
    facts = config = None
    try:
        if args.from_strategy:
            path = Path(args.from_strategy)
            facts = read_strategy(_read_text(path, CliError), str(path))
        if args.config:
            config = _read_json(Path(args.config), CliError)
        template = build(args.strategy_id, facts, config, stoploss=args.stoploss)
    except TemplateError as exc:
        raise CliError(f"risk init: {exc}") from None
    target = strategy_dir(args.root, args.strategy_id) / CONTRACT_FILENAME
    if target.exists() and not args.force:
        raise CliError(f"{target}: exists; pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".risk-init-", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(template.text)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    contract = load_contract(target)  # what was written is a valid contract
    print(f"wrote {target} (fingerprint {contract.fingerprint()[:12]})")
    for line in template.mapped:
        print(f"  mapped: {line}")
    for line in template.not_mapped:
        print(f"  not mapped: {line}")
    if facts is not None:
        klass = args.strategy_id.replace("-", "")
        print(
            f"next: in {args.from_strategy}, import ExecutionMixin (from freqtrade_exec_ext "
            f"import ExecutionMixin), derive {facts.class_name} from it instead of IStrategy, "
            f'and set strategy_id = "{args.strategy_id}" (freqtrade-exec deploy expects the '
            f"class to be named {klass})"
        )
    return 0


def _read_text(path: Any, error: Any) -> str:
    try:
        return str(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None


def _read_json(path: Any, error: Any) -> dict[str, Any]:
    import rapidjson

    try:
        data = rapidjson.loads(
            _read_text(path, error), parse_mode=rapidjson.PM_COMMENTS | rapidjson.PM_TRAILING_COMMAS
        )
    except rapidjson.JSONDecodeError as exc:
        raise error(f"{path}: not a Freqtrade config ({exc})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: not a Freqtrade config (expected an object)")
    return data
