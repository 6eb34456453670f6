"""Terminal (rich), JSON and CSV renderings of a :class:`~.build.Report`.

The terminal output fits its width (``--width``, else ``COLUMNS`` or the terminal size):
no line is longer; a table too wide for it loses its least important columns, which are
named under it (every column is in ``--json``/``--csv``/``--html``).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import IO, Any

from freqtrade_exec_ext.report import executions as X
from freqtrade_exec_ext.report import stop_breaches as SB
from freqtrade_exec_ext.report import tables as TB
from freqtrade_exec_ext.report.build import Report, breach_records
from freqtrade_exec_ext.report.metrics import GROUP_KEYS, SLIP_MEASURES

TERMINAL_BREACHES = 15
TERMINAL_EXECUTIONS = 10
DEFAULT_WIDTH = 120


def terminal_width(width: int | None = None) -> int:
    """--width, else COLUMNS / the terminal's size, else 120."""
    if width:
        return max(40, int(width))
    return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def report_tables(
    report: Report, *, executions: int = TERMINAL_EXECUTIONS, breaches: int = TERMINAL_BREACHES
) -> list[TB.Table]:
    """Every table of the report, in order (the terminal and the HTML page show these)."""
    total = (
        {**report.totals, **{k: "" for k in GROUP_KEYS}, "strategy": "TOTAL"}
        if report.groups
        else None
    )
    out = [
        TB.Table(
            "slippage",
            "Fills: slippage, bps (positive = cost)",
            TB.SLIPPAGE,
            report.groups,
            total=total,
            note="vs: the reference of the statistics (decision price from the ledger, "
            "else the requested price)",
        ),
        TB.Table(
            "costs",
            "Fills: spread, fees, maker share, funding (stake currency)",
            TB.COSTS,
            report.groups,
            total=total,
        ),
    ]
    ex = report.executions
    if len(ex):
        by = [(label, report.exec_tables.get(label) or []) for _, label in X.DIMENSIONS]
        out.append(
            TB.Table(
                "shortfall",
                "Implementation shortfall per execution (decision to completion), "
                "bps of decision notional",
                TB.EXEC_AGG,
                [],
                groups=by,
                total={**(report.exec_tables.get("total") or {}), "key": "TOTAL"},
                note="an execution = one decision and all its child orders (placed, repriced, "
                "cancelled, replaced); Total is in stake currency",
            )
        )
        n = min(executions, len(ex))
        out.append(
            TB.Table(
                "executions",
                f"Executions: the {n} with the highest shortfall of {len(ex):,}",
                TB.EXEC_ROWS,
                TB.exec_rows(X.worst(ex, executions)),
            )
        )
    if report.markouts:
        out.append(
            TB.Table(
                "markouts",
                "Markouts: mid move after the fill, bps (positive = adverse)",
                TB.MARKOUTS,
                report.markouts,
            )
        )
    br = report.breaches
    if len(br):
        out.append(
            TB.Table(
                "breaches",
                f"Budget breaches: {len(br)} fill(s) over the "
                f"slippage budget (worst {min(len(br), breaches)} shown)",
                TB.BREACHES,
                breach_records(br.head(breaches)),
            )
        )
    sb = report.stop_breaches
    if sb is not None and len(sb):
        stop = report.meta.get("stop_contract") or {}
        out.append(
            TB.Table(
                "stop_breaches",
                f"Stop breaches: {len(sb)} against the contract's stop, a "
                f"{100 * float(stop.get('stoploss', 0.0)):.2f}% price move from entry "
                f"(worst {min(len(sb), breaches)} shown)",
                TB.STOP_BREACHES,
                SB.records(sb.head(breaches)),
                note="Move %: price move of the stop (or stop-out exit) from the entry, "
                "negative = loss; Contract %: the contract's stop (for a stop-out, plus "
                "its exit slippage budget)",
            )
        )
    return out


def breach_line(report: Report) -> str | None:
    """The line saying how many breaches there are when no table shows them all (None
    when the tables say it)."""
    nb = len(report.breaches)
    sb = report.stop_breaches
    if sb is None:
        return "Budget breaches: none" if nb == 0 else None
    if nb == 0 and len(sb) == 0:
        return "Breaches: none (no fill over its slippage budget, no stop beyond the contract's)"
    return (
        f"Breaches: {nb} fill(s) over the slippage budget, {len(sb)} stop breach(es) "
        "against the contract's stop"
    )


def constant_keys(table: TB.Table) -> tuple[list[TB.Col], list[str]]:
    rows = table.rows or [r for _, rs in table.groups for r in rs]
    keep: list[TB.Col] = []
    fixed: list[str] = []
    for c in table.cols:
        values = sorted({c.cell(r) for r in rows})
        if c.key and len(table.cols) > 1 and len(values) <= 1 and c.header != "Group":
            if values and values[0]:
                fixed.append(values[0])
            continue
        keep.append(c)
    return keep, fixed


def _rich_table(table: TB.Table, cols: list[TB.Col], title: str) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(
        title=Text(title, style="bold"),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
        padding=(0, 1),
        show_edge=False,
    )
    for c in cols:
        t.add_column(
            c.header, justify="left" if c.key else "right", no_wrap=True, overflow="ellipsis"
        )
    for section, rows in table.groups or [("", table.rows)]:
        if section:
            t.add_row(Text(f"by {section}", style="italic"), *[""] * (len(cols) - 1))
        for r in rows:
            t.add_row(*[Text(c.cell(r)) for c in cols])
        if table.groups:
            t.add_section()
    if table.total is not None and (table.rows or table.groups):
        t.add_row(*[Text(c) for c in total_cells(cols, table.total)], style="bold")
    return t


def total_cells(cols: list[TB.Col], total: dict[str, Any]) -> list[str]:
    """The TOTAL row: the label in the first column, other keys blank."""
    return [
        "TOTAL" if i == 0 and c.key else "" if c.key else c.cell(total) for i, c in enumerate(cols)
    ]


def fit(console: Any, table: TB.Table, width: int) -> tuple[Any, list[str]]:
    """The table with its constant keys folded into the title and, while it is wider than
    ``width``, its lowest-ranked columns dropped; returns (rich table, dropped headers)."""
    cols, fixed = constant_keys(table)
    title = table.title + (f" — {', '.join(fixed)}" if fixed else "")
    dropped: list[str] = []
    while True:
        t = _rich_table(table, cols, title)
        wide = console.options.update_width(10_000)
        if console.measure(t, options=wide).maximum <= width:
            return t, dropped
        candidates = [c for c in cols if not c.key]
        if len(candidates) <= 1:
            return t, dropped
        victim = min(candidates, key=lambda c: c.rank)
        cols = [c for c in cols if c is not victim]
        dropped.append(victim.header)


def render_terminal(report: Report, file: IO[str] | None = None, width: int | None = None) -> None:
    from rich.console import Console
    from rich.text import Text

    width = terminal_width(width)
    console = Console(
        file=file,
        width=width,
        soft_wrap=False,
        highlight=False,
        force_terminal=False,
        color_system=None if file is not None else "auto",
    )
    meta = report.meta

    def line(text: str, style: str | None = None, indent: int = 0) -> None:
        import textwrap

        for i, part in enumerate(
            textwrap.wrap(text, width - indent, break_long_words=True, break_on_hyphens=False)
            or [""]
        ):
            pad = " " * (indent if i else 0)
            console.print(Text(pad + part, style=style or ""), overflow="fold")

    line("Execution quality", "bold")
    line(f"source: {meta.get('source')}")
    line(f"stage rule: {meta.get('stage_rule')}")
    if not report.groups:
        line("no orders matched")
    for table in report_tables(report):
        t, dropped = fit(console, table, width)
        console.print(t)
        notes = ([table.note] if table.note else []) + (
            [f"not shown at {width} columns: {', '.join(dropped)} (see --json/--html)"]
            if dropped
            else []
        )
        for n in notes:
            line(f"  {n}", "dim", indent=4)
    summary = breach_line(report)
    if summary:
        line(summary)
    if report.unavailable:
        line("Could not compute:", "bold")
        for gap in report.unavailable:
            line(f"  - {gap}", indent=4)
    for note in report.notes:
        line(f"note: {note}")


def write_json(report: Report, path: Path) -> None:
    # compact: the C encoder (indent would switch to the pure-Python one)
    path.write_text(json.dumps(report.to_dict(), allow_nan=False) + "\n", encoding="utf-8")


def flat_row(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: r.get(k, "") for k in GROUP_KEYS}
    for k in ("orders", "filled", "cancelled", "open", "filled_notional"):
        out[k] = r[k]
    for m in SLIP_MEASURES:
        s = r.get(f"slip_{m}") or {}
        for stat in ("n", "mean", "median", "p90", "worst", "weighted"):
            out[f"slip_{m}_{stat}_bps" if stat != "n" else f"slip_{m}_n"] = s.get(stat)
    for k in (
        "spread_cost_bps",
        "fees",
        "fees_bps",
        "fees_estimated",
        "maker_share",
        "funding_paid",
        "funding_received",
    ):
        out[k] = r.get(k)
    out["breaches"] = r.get("breaches", 0)
    if "stop_breaches" in r:
        out["stop_breaches"] = r["stop_breaches"]
    return out


def write_csv(report: Report, path: Path) -> None:
    rows = [flat_row(r) for r in report.groups]
    if report.groups:
        rows.append(flat_row({**report.totals, **{k: "" for k in GROUP_KEYS}, "strategy": "TOTAL"}))
    fields = list(
        flat_row({"orders": 0, "filled": 0, "cancelled": 0, "open": 0, "filled_notional": 0}).keys()
    )
    if report.stop_breaches is not None:  # --contract: stop breaches per group and in TOTAL
        fields.append("stop_breaches")
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for row in rows:
            w.writerow({k: "" if v is None else v for k, v in row.items()})


def write_executions_csv(report: Report, path: Path) -> None:
    """Every execution, one row each (the fields of the JSON ``executions.worst``)."""
    recs = X.records(report.executions)
    fields = list(recs[0].keys()) if recs else [*X.RECORD_FIELDS, *X.PARTS]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for row in recs:
            w.writerow({k: "" if v is None else v for k, v in row.items()})
