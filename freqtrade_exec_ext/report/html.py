"""Self-contained HTML report with plotly charts (plotly.js inlined: works offline).

The tables are the terminal's (:mod:`.tables`: same headers, same cells), with every
column; a table wider than the page scrolls inside its own box, so the page itself fits
a 1280 px window.  A chart with a single bucket says so in a note instead of drawing a
lone bar on an axis of sub-second ticks.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report import tables as TB
from freqtrade_exec_ext.report.build import Report, sample
from freqtrade_exec_ext.report.render import (
    breach_line,
    constant_keys,
    report_tables,
    total_cells,
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
h3{font-size:14px;margin:14px 0 4px}
.meta{color:#555;font-size:13px;overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%;width:max-content;border:1px solid #eee}
table{border-collapse:collapse;font-size:12px;margin:0}
th,td{padding:3px 6px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0} td.k,th.k{text-align:left}
tr.total td{font-weight:bold} tr.section td{font-style:italic;background:#fafafa}
.gap{color:#8a4b00} .plot{border:1px solid #e5e5e5;margin:10px 0}
.note{color:#555;font-size:12px;margin:2px 0 10px}
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


def _note(fig: Any, text: str) -> None:
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


LAYOUT = {"height": 360, "margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "template": "plotly_white"}


def _slippage_figures(filled: pd.DataFrame) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    col, label = _slip_col(filled)
    box = go.Figure()
    for pair, sub in filled.groupby("pair", observed=True, sort=True):
        vals = sample(sub[[col]].dropna())[col]
        if len(vals):
            box.add_trace(go.Box(y=vals, name=str(pair), boxpoints=False))
    box.update_layout(
        title=f"Slippage distribution per pair, bps {label} (positive = cost)",
        yaxis_title="bps",
        showlegend=False,
        **LAYOUT,
    )
    scatter = go.Figure()
    pts = sample(filled[["notional", col, "pair"]].dropna())
    for pair, sub in pts.groupby("pair", observed=True, sort=True):
        scatter.add_trace(
            go.Scattergl(
                x=sub["notional"],
                y=sub[col],
                mode="markers",
                name=str(pair),
                marker={"size": 5, "opacity": 0.6},
            )
        )
    scatter.update_layout(
        title=f"Slippage vs order size ({label})",
        xaxis_title="filled notional",
        yaxis_title="bps",
        **LAYOUT,
    )
    return [("slippage-per-pair", box), ("slippage-vs-size", scatter)]


def shortfall_over_time(ex: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Shortfall per hour or day of execution end: decision notional, cost, bps."""
    done = ex.loc[np.isfinite(ex["ended_ts"].to_numpy(float)) & (ex["decision_notional"] > 0)]
    if done.empty:
        return pd.DataFrame(columns=["period", "notional", "cost", "cost_bps"]), "day"
    span = done["ended_ts"].max() - done["ended_ts"].min()
    freq, unit = ("h", "hour") if span < 5 * 86400 else ("D", "day")
    period = pd.to_datetime(done["ended_ts"], unit="s", utc=True).dt.floor(freq)
    g = done.assign(period=period).groupby("period", sort=True)
    out = g.agg(notional=("decision_notional", "sum"), cost=("total", "sum")).reset_index()
    out["cost_bps"] = out["cost"] / out["notional"] * 1e4
    return out, unit


def _time_figure(report: Report) -> tuple[str, Any]:
    import plotly.graph_objects as go

    ts, unit = (
        shortfall_over_time(report.executions)
        if len(report.executions)
        else (pd.DataFrame(), "day")
    )
    fig = go.Figure()
    title = f"Implementation shortfall over time (per {unit}, bps of decision notional)"
    if len(ts) == 1:
        r = ts.iloc[0]
        _note(
            fig,
            f"one {unit} only ({r['period']:%Y-%m-%d %H:%M} UTC): "
            f"{r['cost_bps']:.2f} bps on {TB.money(r['notional'])} decided",
        )
    elif len(ts):
        fig.add_trace(go.Bar(x=ts["period"], y=ts["cost_bps"], name="shortfall bps"))
        fig.update_layout(yaxis_title="bps")
    fig.update_layout(title=title, **LAYOUT)
    return "cost-over-time", fig


def _maker_figure(filled: pd.DataFrame) -> tuple[str, Any]:
    import plotly.graph_objects as go

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
        fig.update_layout(
            title="Maker share per pair (% of filled notional)",
            yaxis_title="%",
            yaxis_range=[0, 100],
            **LAYOUT,
        )
    else:
        fig.update_layout(title="Maker share per pair", **LAYOUT)
        _note(
            fig,
            "not available: no fill has a maker/taker record "
            "(Freqtrade does not store it; the execution ledger does)",
        )
    return "maker-share", fig


def _markout_figure(report: Report) -> tuple[str, Any]:
    import plotly.graph_objects as go

    fig = go.Figure()
    rows = report.markouts
    for side in ("maker", "taker", "all"):
        ys = [r[side]["mean"] for r in rows]
        if any(y is not None for y in ys):
            fig.add_trace(go.Bar(x=[r["horizon"] for r in rows], y=ys, name=side))
    fig.update_layout(
        title="Markouts per horizon, mean bps (positive = adverse)",
        yaxis_title="bps",
        barmode="group",
        **LAYOUT,
    )
    if not fig.data:
        _note(
            fig,
            "not available: no fill has a markout (ledger markouts_bps; backtests: "
            "candles from --datadir)",
        )
    return "markouts", fig


def figures(report: Report) -> list[tuple[str, Any]]:
    df = report.frame
    if df is None:
        return []
    filled = df.loc[df["notional"] > 0]
    figs = [
        *_slippage_figures(filled),
        _time_figure(report),
        _maker_figure(filled),
        _markout_figure(report),
    ]
    for _, f in figs:
        if not f.data and not f.layout.annotations:
            _note(f, "no filled order to plot")
    return figs


def _html_table(table: TB.Table) -> str:
    cols, fixed = constant_keys(table)
    title = table.title + (f" — {', '.join(fixed)}" if fixed else "")
    head = (
        "<tr>"
        + "".join(f'<th class="{"k" if c.key else ""}">{html.escape(c.header)}</th>' for c in cols)
        + "</tr>"
    )
    body: list[str] = []

    def row(cells: list[str], cls: str = "") -> str:
        tds = "".join(
            f'<td class="{"k" if c.key else ""}">{html.escape(v)}</td>'
            for c, v in zip(cols, cells, strict=True)
        )
        return f'<tr class="{cls}">{tds}</tr>'

    for section, rows in table.groups or [("", table.rows)]:
        if section:
            body.append(
                f'<tr class="section"><td class="k" colspan="{len(cols)}">by '
                f"{html.escape(section)}</td></tr>"
            )
        body += [row([c.cell(r) for c in cols]) for r in rows]
    if table.total is not None and (table.rows or table.groups):
        body.append(row(total_cells(cols, table.total), "total"))
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return (
        f'<h3>{html.escape(title)}</h3><div class="scroll" id="t-{table.name}">'
        f"<table>{head}{''.join(body)}</table></div>{note}"
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
    tables = "".join(_html_table(t) for t in report_tables(report, executions=200, breaches=200))
    summary = breach_line(report)
    breaches = f"<p>{html.escape(summary)}</p>" if summary else ""
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Execution quality report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style><script type="text/javascript">{get_plotlyjs()}</script></head>
<body><h1>Execution quality</h1>
<div class="meta">source: {html.escape(str(meta.get("source")))} &middot; orders:
{report.totals.get("orders", 0):,} &middot; stage rule: {html.escape(str(meta.get("stage_rule")))}
&middot; budgets: {html.escape(str(meta.get("budget_source")))}</div>
<p class="meta">bps are positive when they cost money; shortfall parts are costs in the stake
currency (negative = gain). See docs/report.md.</p>
<h2>Tables</h2>{tables}{breaches}
<h2>Charts</h2>{"".join(parts)}
<h2>Could not compute</h2><ul class="gap">{gaps}</ul>
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""
    path.write_text(doc, encoding="utf-8")
