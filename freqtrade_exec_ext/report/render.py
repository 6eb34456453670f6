"""Terminal (rich), JSON and CSV renderings of a :class:`~.build.Report`."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import IO, Any

from freqtrade_exec_ext.report.build import Report
from freqtrade_exec_ext.report.metrics import GROUP_KEYS, IS_PARTS, SLIP_MEASURES

TERMINAL_BREACHES = 15


def _f(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    out = f"{float(v) + 0.0:,.{digits}f}"
    return out[1:] if out.startswith("-") and float(out.replace(",", "")) == 0 else out


def _money(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    v = float(v) + 0.0  # no "-0"
    if abs(v) < 5e-5:
        v = 0.0
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 1 or v == 0:
        return f"{v:,.2f}"
    return f"{v:,.4f}"


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"


def _slip(row: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    for m in ("decision", "requested"):
        s = row.get(f"slip_{m}")
        if s:
            return m, s
    return "decision", None


def render_terminal(report: Report, file: IO[str] | None = None, width: int | None = None) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file, width=width or 240, soft_wrap=False)
    meta = report.meta
    console.print(
        f"[bold]Execution quality[/bold]  source: {meta.get('source')}  "
        f"stage rule: {meta.get('stage_rule')}"
    )
    slip = Table(
        title="Slippage, bps (positive = cost)", box=box.SIMPLE_HEAVY, title_justify="left"
    )
    for k in ("Strategy", "Pair", "Side", "Type", "Stage"):
        slip.add_column(k)
    for k in (
        "Orders",
        "Filled",
        "Notional",
        "vs",
        "Mean",
        "Median",
        "P90",
        "Worst",
        "Wtd",
        "Arr wtd",
        "Arr p90",
    ):
        slip.add_column(k, justify="right")
    cost = Table(
        title="Costs and implementation shortfall (stake currency; bps of filled notional)",
        box=box.SIMPLE_HEAVY,
        title_justify="left",
    )
    for k in ("Strategy", "Pair", "Side", "Type", "Stage"):
        cost.add_column(k)
    for k in (
        "Spread bps",
        "Fees",
        "Fee bps",
        "Maker",
        "Fund paid",
        "Fund recv",
        "Delay",
        "Execution",
        "Fees IS",
        "Funding",
        "Opport.",
        "IS total",
        "IS bps",
        "Breaches",
    ):
        cost.add_column(k, justify="right")
    rows = (
        [*report.groups, {**report.totals, **{k: "" for k in GROUP_KEYS}, "strategy": "TOTAL"}]
        if report.groups
        else []
    )
    for r in rows:
        keys = [str(r.get(k, "")) for k in GROUP_KEYS]
        m, s = _slip(r)
        a = r.get("slip_arrival") or {}
        s = s or {}
        style = "bold" if r.get("strategy") == "TOTAL" else None
        slip.add_row(
            *keys,
            f"{r['orders']:,}",
            f"{r['filled']:,}",
            _money(r["filled_notional"]),
            "dec" if m == "decision" else "req",
            _f(s.get("mean")),
            _f(s.get("median")),
            _f(s.get("p90")),
            _f(s.get("worst")),
            _f(s.get("weighted")),
            _f(a.get("weighted")),
            _f(a.get("p90")),
            style=style,
        )
        sf = r["shortfall"]
        cost.add_row(
            *keys,
            _f(r.get("spread_cost_bps"), 2),
            _money(r.get("fees")),
            _f(r.get("fees_bps")),
            _pct(r.get("maker_share")),
            _money(r.get("funding_paid")),
            _money(r.get("funding_received")),
            _money(sf.get("delay")),
            _money(sf.get("execution")),
            _money(sf.get("fees")),
            _money(sf.get("funding")),
            _money(sf.get("opportunity")),
            _money(sf.get("total")),
            _f(sf.get("total_bps")),
            f"{r.get('breaches', 0):,}",
            style=style,
        )
    if not rows:
        console.print("no orders matched")
    else:
        console.print(slip)
        console.print(cost)
    br = report.breaches
    if len(br):
        t = Table(
            title=f"Budget breaches: {len(br)} fill(s) over the slippage budget "
            f"(worst {min(len(br), TERMINAL_BREACHES)} shown)",
            box=box.SIMPLE,
            title_justify="left",
        )
        for k in (
            "Trade",
            "Pair",
            "Side",
            "Intent",
            "Order id",
            "Filled (UTC)",
            "Slip bps",
            "Budget",
            "Excess",
            "Notional",
        ):
            t.add_column(
                k,
                justify="right"
                if k in ("Slip bps", "Budget", "Excess", "Notional", "Trade")
                else "left",
            )
        from freqtrade_exec_ext.report.build import breach_records

        for b in breach_records(br.head(TERMINAL_BREACHES)):
            t.add_row(
                str(b["trade_id"]),
                b["pair"],
                b["side"],
                b["intent"],
                b["order_id"],
                (b["filled_time"] or "")[:19],
                _f(b["slippage_bps"]),
                _f(b["budget_bps"]),
                _f(b["excess_bps"]),
                _money(b["notional"]),
            )
        console.print(t)
    else:
        console.print("Budget breaches: none")
    if report.unavailable:
        console.print("[bold]Could not compute:[/bold]")
        for line in report.unavailable:
            console.print(f"  - {line}")
    for line in report.notes:
        console.print(f"note: {line}")


def write_json(report: Report, path: Path) -> None:
    path.write_text(
        json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )


def flat_row(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: r.get(k, "") for k in GROUP_KEYS}
    for k in ("orders", "filled", "cancelled", "open", "filled_notional", "unfilled_notional"):
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
    for part in IS_PARTS:
        out[f"is_{part}"] = r["shortfall"].get(part)
        out[f"is_{part}_bps"] = r["shortfall"].get(f"{part}_bps")
    out["breaches"] = r.get("breaches", 0)
    return out


def write_csv(report: Report, path: Path) -> None:
    rows = [flat_row(r) for r in report.groups]
    if report.groups:
        rows.append(flat_row({**report.totals, **{k: "" for k in GROUP_KEYS}, "strategy": "TOTAL"}))
    fields = list(
        flat_row(
            {
                "orders": 0,
                "filled": 0,
                "cancelled": 0,
                "open": 0,
                "filled_notional": 0,
                "unfilled_notional": 0,
                "shortfall": {},
            }
        ).keys()
    )
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for row in rows:
            w.writerow({k: "" if v is None else v for k, v in row.items()})
