"""Self-contained HTML report with plotly charts (plotly.js inlined: works offline)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report import metrics as M
from freqtrade_exec_ext.report.build import Report, breach_records, sample
from freqtrade_exec_ext.report.render import _f, _money, _pct

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
h3{font-size:14px;margin:14px 0 4px}
.meta{color:#555;font-size:13px} table{border-collapse:collapse;font-size:12px;margin:6px 0}
th,td{padding:3px 6px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th{background:#f3f3f3} td.k,th.k{text-align:left} tr.total td{font-weight:bold}
.gap{color:#8a4b00} .plot{border:1px solid #e5e5e5;margin:10px 0}
"""


def _slip_col(df: pd.DataFrame) -> tuple[str, str]:
    """Decision-price slippage when most fills have it, else requested-price slippage."""
    n = len(df)
    have = int(df["slip_decision_bps"].notna().sum())
    if n and have * 2 >= n:
        missing = n - have
        extra = f"; {missing} fill(s) without a decision price not shown" if missing else ""
        return "slip_decision_bps", f"vs decision price{extra}"
    return "slip_requested_bps", "vs requested price"


def _empty(fig: Any, text: str) -> None:
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False})
    fig.add_annotation(
        text=text,
        showarrow=False,
        font={"size": 14, "color": "#8a4b00"},
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
    )


def figures(report: Report) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    df = report.frame
    if df is None:
        return []
    filled = df.loc[df["notional"] > 0]
    col, label = _slip_col(filled)
    figs: list[tuple[str, Any]] = []
    layout = {
        "height": 380,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "template": "plotly_white",
    }

    # 1. slippage distribution per pair
    fig = go.Figure()
    for pair, sub in filled.groupby("pair", observed=True, sort=True):
        vals = sample(sub[[col]].dropna())[col]
        if len(vals):
            fig.add_trace(go.Box(y=vals, name=str(pair), boxpoints=False))
    fig.update_layout(
        title=f"Slippage distribution per pair, bps {label} (positive = cost)",
        yaxis_title="bps",
        showlegend=False,
        **layout,
    )
    figs.append(("slippage-per-pair", fig))

    # 2. slippage vs order size
    fig = go.Figure()
    pts = sample(filled[["notional", col, "pair"]].dropna())
    for pair, sub in pts.groupby("pair", observed=True, sort=True):
        fig.add_trace(
            go.Scattergl(
                x=sub["notional"],
                y=sub[col],
                mode="markers",
                name=str(pair),
                marker={"size": 5, "opacity": 0.6},
            )
        )
    fig.update_layout(
        title=f"Slippage vs order size ({label})",
        xaxis_title="filled notional",
        yaxis_title="bps",
        **layout,
    )
    figs.append(("slippage-vs-size", fig))

    # 3. cost over time
    span = (filled["filled_ts"].max() - filled["filled_ts"].min()) if len(filled) else 0
    freq = "h" if span and span < 5 * 86400 else "D"
    ts = M.cost_over_time(df, freq)
    fig = go.Figure()
    if len(ts):
        fig.add_trace(go.Bar(x=ts["period"], y=ts["cost_bps"], name="shortfall bps"))
    unit = "hour" if freq == "h" else "day"
    fig.update_layout(
        title=f"Implementation shortfall over time (per {unit}, bps of filled notional)",
        yaxis_title="bps",
        **layout,
    )
    figs.append(("cost-over-time", fig))

    # 4. maker share per pair
    fig = go.Figure()
    known = filled.loc[filled["liquidity"].astype(str).isin(["maker", "taker"])]
    if len(known):
        g = known.assign(
            maker=np.where(known["liquidity"].astype(str) == "maker", known["notional"], 0.0)
        )
        g = g.groupby("pair", observed=True, sort=True)[["maker", "notional"]].sum()
        fig.add_trace(
            go.Bar(
                x=[str(i) for i in g.index],
                y=(100 * g["maker"] / g["notional"]).round(1),
                name="maker %",
            )
        )
        title = "Maker share per pair (% of filled notional)"
        fig.update_layout(yaxis_title="%", yaxis_range=[0, 100])
    else:
        title = "Maker share per pair"
        _empty(
            fig,
            "not available: no fill has a maker/taker record "
            "(Freqtrade does not store it; the execution ledger does)",
        )
    fig.update_layout(title=title, **layout)
    figs.append(("maker-share", fig))
    for _, f in figs:
        if not f.data and not f.layout.annotations:
            _empty(f, "no filled order to plot")
    return figs


def _table(report: Report, headers: tuple[str, ...], cells: Any) -> str:
    head = (
        "<tr>"
        + "".join(f'<th class="k">{h}</th>' for h in ("Strategy", "Pair", "Side", "Type", "Stage"))
        + "".join(f"<th>{h}</th>" for h in headers)
        + "</tr>"
    )
    body = []
    rows = [*report.groups, {**report.totals, "strategy": "TOTAL"}] if report.groups else []
    for r in rows:
        keys = [html.escape(str(r.get(k, ""))) for k in M.GROUP_KEYS]
        cls = ' class="total"' if r.get("strategy") == "TOTAL" else ""
        body.append(
            f"<tr{cls}>"
            + "".join(f'<td class="k">{c}</td>' for c in keys)
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells(r))
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _slippage_cells(r: dict[str, Any]) -> list[str]:
    s = r.get("slip_decision") or r.get("slip_requested") or {}
    a = r.get("slip_arrival") or {}
    vs = "decision" if r.get("slip_decision") else "requested"
    return [
        f"{r['orders']:,}",
        f"{r['filled']:,}",
        f"{r['cancelled']:,}",
        _money(r["filled_notional"]),
        vs,
        _f(s.get("mean")),
        _f(s.get("median")),
        _f(s.get("p90")),
        _f(s.get("worst")),
        _f(s.get("weighted")),
        _f(a.get("mean")),
        _f(a.get("p90")),
        _f(a.get("weighted")),
    ]


def _cost_cells(r: dict[str, Any]) -> list[str]:
    sf = r["shortfall"]
    return [
        _f(r.get("spread_cost_bps"), 2),
        _money(r.get("fees")),
        _f(r.get("fees_bps")),
        _pct(r.get("maker_share")),
        _money(r.get("funding_paid")),
        _money(r.get("funding_received")),
        _money(sf.get("delay")),
        _money(sf.get("execution")),
        _money(sf.get("spread")),
        _money(sf.get("impact")),
        _money(sf.get("fees")),
        _money(sf.get("funding")),
        _money(sf.get("opportunity")),
        _money(sf.get("total")),
        _f(sf.get("total_bps")),
        f"{r.get('breaches', 0):,}",
    ]


def _groups_table(report: Report) -> str:
    slip = _table(
        report,
        (
            "Orders",
            "Filled",
            "Cancelled",
            "Notional",
            "vs",
            "Mean",
            "Median",
            "P90",
            "Worst",
            "Wtd",
            "Arr mean",
            "Arr p90",
            "Arr wtd",
        ),
        _slippage_cells,
    )
    cost = _table(
        report,
        (
            "Spread bps",
            "Fees",
            "Fee bps",
            "Maker",
            "Fund paid",
            "Fund recv",
            "Delay",
            "Execution",
            "(spread)",
            "(impact)",
            "Fees",
            "Funding",
            "Opport.",
            "IS total",
            "IS bps",
            "Breaches",
        ),
        _cost_cells,
    )
    return (
        f"<h3>Slippage, bps (positive = cost)</h3>{slip}"
        f"<h3>Costs and implementation shortfall (stake currency; IS bps of filled "
        f"notional)</h3>{cost}"
    )


def _breach_table(report: Report, limit: int = 200) -> str:
    recs = breach_records(report.breaches.head(limit))
    if not recs:
        return "<p>No fill over its slippage budget.</p>"
    head = "".join(
        f"<th>{h}</th>"
        for h in (
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
        )
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(c))}</td>"
            for c in (
                b["trade_id"],
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
        )
        + "</tr>"
        for b in recs
    )
    more = (
        f"<p>{len(report.breaches) - limit} more in --json/--csv output.</p>"
        if len(report.breaches) > limit
        else ""
    )
    return (
        f"<p>{len(report.breaches)} fill(s) over budget.</p><table><tr>{head}</tr>{body}"
        f"</table>{more}"
    )


def write_html(report: Report, path: Path) -> None:
    from plotly.offline import get_plotlyjs

    parts = []
    for name, fig in figures(report):
        parts.append(
            f'<div class="plot" id="{name}">'
            + fig.to_html(
                include_plotlyjs=False,
                full_html=False,
                config={"displaylogo": False, "responsive": True},
            )
            + "</div>"
        )
    meta = report.meta
    gaps = (
        "".join(f"<li>{html.escape(x)}</li>" for x in report.unavailable)
        or "<li>nothing: every metric was computed</li>"
    )
    notes = "".join(f"<li>{html.escape(x)}</li>" for x in report.notes)
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Execution quality report</title>
<style>{CSS}</style><script type="text/javascript">{get_plotlyjs()}</script></head>
<body><h1>Execution quality</h1>
<div class="meta">source: {html.escape(str(meta.get("source")))} &middot; orders:
{report.totals.get("orders", 0):,} &middot; stage rule: {html.escape(str(meta.get("stage_rule")))}
&middot; budgets: {html.escape(str(meta.get("budget_source")))}</div>
<p class="meta">bps are positive when they cost money; shortfall parts are costs in the stake
currency (negative = gain). See docs/report.md.</p>
<h2>Per strategy, pair, side, order type and stage</h2>{_groups_table(report)}
<h2>Charts</h2>{"".join(parts)}
<h2>Budget breaches</h2>{_breach_table(report)}
<h2>Could not compute</h2><ul class="gap">{gaps}</ul>
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""
    path.write_text(doc, encoding="utf-8")
