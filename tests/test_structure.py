"""The package's shape (docs/architecture in issue 12): small modules, Freqtrade touched only
through ``compat``, a pure core that knows nothing of Freqtrade, databases, files or clocks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "freqtrade_exec_ext"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 500
# the pure core: pricing, sizing, slippage maths, cost models, the contract's model
PURE = ("execution", "contract")
# (ccxt's exception classes are allowed: they are the vocabulary the order placement
# classifies failures in, not I/O)
NOT_IN_PURE = ("freqtrade", "sqlalchemy", "pandas", "requests", "urllib.request", "socket", "time")


def imported_modules(path: Path) -> list[str]:
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out


def rel(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_the_package_has_modules_to_check():
    assert len(MODULES) > 100


def test_no_module_is_over_500_lines():
    sizes = {rel(p): len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_freqtrade_is_imported_only_in_compat():
    outside = {
        rel(p): mods
        for p in MODULES
        if "compat" not in p.relative_to(PACKAGE).parts
        and (mods := [m for m in imported_modules(p) if m.split(".")[0] == "freqtrade"])
    }
    assert outside == {}


@pytest.mark.parametrize("package", PURE)
def test_the_pure_core_imports_no_host_database_or_clock(package):
    found = {
        rel(p): mods
        for p in sorted((PACKAGE / package).rglob("*.py"))
        if (
            mods := [
                m for m in imported_modules(p) if m in NOT_IN_PURE or m.split(".")[0] in NOT_IN_PURE
            ]
        )
    }
    assert found == {}
