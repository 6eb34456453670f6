"""The paper report a human reviews before approving live (one small adapter).

The report package is reached only through its public entry point, the ``report``
command (``freqtrade-exec report --db URL --contract FILE --json OUT --quiet``), and only
a few keys of its JSON output are read, each with a fallback: the coupling to the report
lives in :func:`render_paper_report` alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.errors import TemporaryFailure


class ReportUnavailable(TemporaryFailure):
    """The report could not be rendered (one clear line)."""


@dataclass(frozen=True)
class PaperReport:
    path: Path
    sha256: str
    orders: int | None
    filled: int | None
    shortfall_bps: float | None
    budget_breaches: int | None  # fills over the contract's slippage budget

    def summary(self) -> str:
        def num(v: Any, fmt: str = "{:,}") -> str:
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                return "n/a"
            return fmt.format(v)

        return (
            f"paper report: {num(self.orders)} orders, {num(self.filled)} filled, "
            f"implementation shortfall {num(self.shortfall_bps, '{:.1f}')} bps, "
            f"{num(self.budget_breaches)} fills over the slippage budget "
            f"(sha256 {self.sha256[:12]})"
        )


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def report_db_url(url: str, root: Path) -> str:
    """The report opens URLs as given: a relative SQLite path is made absolute."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + (root / url[len(prefix) :]).as_posix()
    return url


def render_paper_report(db_url: str, root: Path, contract: Path, out: Path) -> PaperReport:
    """Render the report of the paper database into ``out`` (JSON) and summarise it."""
    from freqtrade_exec_ext.cli.main import main

    args = ["report", "--db", report_db_url(db_url, root), "--contract", str(contract),
            "--json", str(out), "--quiet"]  # fmt: skip
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(args)
    if rc != 0 or not out.is_file():
        first = (err.getvalue().strip().splitlines() or [f"exit {rc}"])[0]
        raise ReportUnavailable(f"the paper report could not be rendered: {first}")
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportUnavailable(f"the paper report is not JSON ({exc})") from None
    totals = data.get("totals") if isinstance(data, dict) else None
    totals = totals if isinstance(totals, dict) else {}
    shortfall: dict[str, Any] = _dict(totals.get("shortfall"))
    breaches = data.get("breaches") if isinstance(data, dict) else None
    return PaperReport(
        path=out,
        sha256=sha256_file(out),
        orders=_int(totals.get("orders")),
        filled=_int(totals.get("filled")),
        shortfall_bps=_float(shortfall.get("total_bps")),
        budget_breaches=len(breaches) if isinstance(breaches, list) else None,
    )


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
