"""A commented ``risk-assessment.yaml`` for a new strategy, or for one being ported (pure).

``freqtrade-exec risk init STR-002 [--from-strategy FILE] [--config FILE]`` writes it.  From
a strategy file (read with :mod:`ast`, never executed) the settings a contract owns are
carried over: stoploss, trailing, order types, stop on the exchange, time in force, short
selling and leverage; from a Freqtrade config the stake, the number of trades, the wallet
and the market.  What cannot be carried over is listed with the reason.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from freqtrade_exec_ext.errors import InputRefused

# attributes read from a strategy class (the values Freqtrade would read)
STRATEGY_ATTRS = (
    "stoploss",
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached",
    "order_types",
    "order_time_in_force",
    "timeframe",
    "ticker_interval",
    "can_short",
    "use_custom_stoploss",
    "position_adjustment_enable",
    "minimal_roi",
    "max_open_trades",
    "unfilledtimeout",
)


class TemplateError(InputRefused, ValueError):
    """The strategy cannot be read, or needs an answer (one line)."""


@dataclass
class StrategyFacts:
    """What a strategy file says, without running it."""

    class_name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    methods: set[str] = field(default_factory=set)
    leverage_constant: float | None = None


def read_strategy(source: str, filename: str) -> StrategyFacts:
    """The first class deriving from ``IStrategy`` (or ``ExecutionMixin``) in ``source``."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise TemplateError(f"{filename}: not Python ({exc.msg}, line {exc.lineno})") from None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            getattr(b, "id", getattr(b, "attr", "")) in ("IStrategy", "ExecutionMixin")
            for b in node.bases
        ):
            return _facts(node)
    raise TemplateError(f"{filename}: no strategy class (a class deriving from IStrategy)")


def _facts(node: ast.ClassDef) -> StrategyFacts:
    facts = StrategyFacts(node.name)
    for item in node.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(item, ast.Assign):
            targets, value = item.targets, item.value
        elif isinstance(item, ast.AnnAssign) and item.value is not None:
            targets, value = [item.target], item.value
        elif isinstance(item, ast.FunctionDef):
            facts.methods.add(item.name)
            if item.name == "leverage":
                facts.leverage_constant = _constant_return(item)
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in STRATEGY_ATTRS and value is not None:
                try:
                    facts.attrs[target.id] = ast.literal_eval(value)
                except ValueError:
                    continue
    return facts


def _constant_return(fn: ast.FunctionDef) -> float | None:
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    values = []
    for r in returns:
        try:
            values.append(float(ast.literal_eval(r.value)) if r.value is not None else None)
        except (ValueError, TypeError):
            return None
    return values[0] if len(set(values)) == 1 and values[0] is not None else None


@dataclass
class Template:
    text: str
    mapped: list[str]
    not_mapped: list[str]


def _ordertype(value: Any) -> str | None:
    return value if value in ("limit", "market") else None


def _stop(facts: StrategyFacts | None, stoploss: float | None) -> tuple[float, str]:
    if stoploss is not None:
        return stoploss, f"stoploss {stoploss:g} (--stoploss)"
    raw = facts.attrs.get("stoploss") if facts else None
    if raw is None:
        raise TemplateError(
            "the strategy sets no stoploss: pass --stoploss (a price move, e.g. -0.10); "
            "a risk contract always has a stop"
        )
    value = float(raw)
    if value <= -1 or value >= 0:
        raise TemplateError(
            f"the strategy's stoploss = {raw:g} means no stop-loss; a risk contract needs "
            "one: pass --stoploss (a price move from the entry, e.g. -0.10)"
        )
    return value, f"stoploss {value:g} -> stop_loss.stoploss"


def _leverage(facts: StrategyFacts | None, mapped: list[str], not_mapped: list[str]) -> float:
    leverage = facts.leverage_constant if facts and facts.leverage_constant else 1.0
    if facts and "leverage" in facts.methods:
        if facts.leverage_constant:
            mapped.append(f"leverage() returns {leverage:g} -> leverage.max")
        else:
            not_mapped.append(
                "leverage(): not a constant; leverage.max stays 1 (raise it to the highest "
                "leverage the strategy may ask for; the mixin caps leverage() at it)"
            )
    return leverage


def _orders(
    attrs: dict[str, Any], mapped: list[str], not_mapped: list[str]
) -> tuple[str, str, Any, Any, str]:
    ot = attrs.get("order_types") or {}
    entry = _ordertype(ot.get("entry", ot.get("buy"))) or "limit"
    exit_ = _ordertype(ot.get("exit", ot.get("sell"))) or "limit"
    if ot:
        mapped.append(
            "order_types -> orders.entry_type/exit_type, stop_loss.order_type/on_exchange"
        )
    tif = (attrs.get("order_time_in_force") or {}).get("entry")
    tif = str(tif).upper() if tif else "GTC"
    if tif not in ("GTC", "IOC", "FOK", "PO"):
        not_mapped.append(f"order_time_in_force {tif}: not GTC/IOC/FOK/PO; GTC used")
        tif = "GTC"
    if tif == "PO" and "market" in (entry, exit_):
        not_mapped.append("order_time_in_force PO with market orders: not possible; GTC used")
        tif = "GTC"
    return entry, exit_, ot.get("stoploss"), ot.get("stoploss_on_exchange"), tif


def _kept_callbacks(facts: StrategyFacts | None, attrs: dict[str, Any]) -> list[str]:
    methods = facts.methods if facts else set()
    out = [
        f"{key} {attrs[key]}: stays in the strategy (not a risk limit)"
        for key in ("timeframe", "ticker_interval")
        if key in attrs
    ]
    if "minimal_roi" in attrs:
        out.append("minimal_roi: stays in the strategy (an exit rule, not a risk limit)")
    if attrs.get("use_custom_stoploss") or "custom_stoploss" in methods:
        out.append(
            "custom_stoploss: kept; the mixin lets it tighten the contract's stop, never loosen it"
        )
    if attrs.get("position_adjustment_enable") or "adjust_trade_position" in methods:
        out.append(
            "adjust_trade_position: kept; every add is capped so the trade's total stake "
            "stays within sizing (risk_per_trade, max_stake)"
        )
    if "custom_stake_amount" in methods:
        out.append("custom_stake_amount: kept; it gets the contract's stake and may only lower it")
    return out


def _trades(attrs: dict[str, Any], cfg: dict[str, Any]) -> int:
    trades = attrs.get("max_open_trades", cfg.get("max_open_trades", 3))
    try:
        return int(trades) if trades not in (-1, None) and float(trades) > 0 else 3
    except (TypeError, ValueError):
        return 3


def build(
    strategy_id: str,
    facts: StrategyFacts | None = None,
    config: dict[str, Any] | None = None,
    *,
    stoploss: float | None = None,
) -> Template:
    """The contract text; raises TemplateError when an answer is missing."""
    cfg = config or {}
    attrs = facts.attrs if facts else {}
    mapped: list[str] = []
    not_mapped: list[str] = []
    stop, why = _stop(facts, stoploss) if facts or stoploss is not None else (-0.05, "")
    if why:
        mapped.append(why)
    futures = bool(attrs.get("can_short")) or cfg.get("trading_mode") == "futures"
    leverage = _leverage(facts, mapped, not_mapped)
    if attrs.get("can_short"):
        mapped.append("can_short = True -> market.trading_mode futures (shorts need futures)")
    entry, exit_, stop_type, on_exchange, tif = _orders(attrs, mapped, not_mapped)
    not_mapped += _kept_callbacks(facts, attrs)
    capital = float(cfg.get("dry_run_wallet") or cfg.get("available_capital") or 1000)
    trades = _trades(attrs, cfg)
    sizing, sizing_note = _sizing(cfg.get("stake_amount"), trades, capital)
    mapped.append(sizing_note)
    lines = _render(
        strategy_id=strategy_id,
        source=facts.class_name if facts else None,
        exchange=str((cfg.get("exchange") or {}).get("name") or "binance"),
        futures=futures,
        margin=str(cfg.get("margin_mode") or "isolated"),
        currency=str(cfg.get("stake_currency") or "USDT"),
        capital=capital,
        trades=trades,
        sizing=sizing,
        stop=stop,
        trailing=bool(attrs.get("trailing_stop")),
        attrs=attrs,
        entry=entry,
        exit_=exit_,
        stop_type="stop_market" if stop_type == "market" else "stop_limit",
        on_exchange=True if on_exchange is None else bool(on_exchange),
        tif=tif,
        leverage=leverage if futures else 1.0,
    )
    return Template("\n".join(lines) + "\n", mapped, not_mapped)


def _sizing(stake: Any, trades: int, capital: float) -> tuple[dict[str, Any], str]:
    if stake == "unlimited":
        share = round(0.99 / trades, 4)
        note = (
            f"stake_amount 'unlimited' -> sizing.method fraction_of_equity {share:g} "
            f"(Freqtrade splits the wallet over {trades} trades)"
        )
        return {
            "method": "fraction_of_equity",
            "fraction_of_equity": share,
            "min_stake": 10,
            "max_stake": round(capital, 2),
        }, note
    try:
        amount = float(stake)
    except (TypeError, ValueError):
        note = (
            "no stake_amount given: sizing.method risk_per_trade 0.01 (1 % of equity lost "
            "at the stop)"
        )
        return {
            "method": "risk_per_trade",
            "risk_per_trade": 0.01,
            "min_stake": 10,
            "max_stake": 300,
        }, note
    return (
        {
            "method": "fixed_stake",
            "fixed_stake": amount,
            "min_stake": min(10.0, amount),
            "max_stake": amount,
        },
        f"stake_amount {amount:g} -> sizing.method fixed_stake",
    )


def _yaml_bool(value: Any) -> str:
    return "true" if value else "false"


def _render(**v: Any) -> list[str]:
    a = v["attrs"]
    sizing = v["sizing"]
    ported = f" (ported from {v['source']})." if v["source"] else "."
    where = f".crypto/knowledge/strategies/{v['strategy_id']}/risk-assessment.yaml"
    out = [
        f"# Risk contract of {v['strategy_id']}{ported}",
        "# Reference: docs/risk-assessment.md.  Check it with:",
        f"#   freqtrade-exec risk check {where}",
        "schema_version: 1",
        f"strategy_id: {v['strategy_id']}",
        "market:",
        f"  exchange: {v['exchange']}",
        f"  trading_mode: {'futures' if v['futures'] else 'spot'}",
    ]
    if v["futures"]:
        out.append(f"  margin_mode: {v['margin']}")
    out += [
        f"  stake_currency: {v['currency']}",
        "capital:",
        f"  initial_capital: {v['capital']:g}   # the paper wallet and the sizing base",
        f"  max_open_trades: {v['trades']}",
        "sizing:",
    ]
    out += [
        f"  {k}: {val:g}" if isinstance(val, float) else f"  {k}: {val}"
        for k, val in sizing.items()
    ]
    out += [
        "stop_loss:",
        f"  stoploss: {v['stop']:g}      # a price move from the entry, at any leverage",
        "  trailing:",
        f"    enabled: {str(v['trailing']).lower()}",
    ]
    if v["trailing"]:
        pos = a.get("trailing_stop_positive") or 0.01
        off = max(a.get("trailing_stop_positive_offset") or 0.0, pos)
        out += [
            f"    positive: {pos:g}",
            f"    offset: {off:g}",
            f"    only_offset_is_reached: {_yaml_bool(a.get('trailing_only_offset_is_reached'))}",
        ]
    out += [
        f"  on_exchange: {str(v['on_exchange']).lower()}",
        f"  order_type: {v['stop_type']}",
        "slippage:",
        "  max_entry_bps: 15     # most adverse entry fill vs the decision price",
        "  max_exit_bps: 30",
        "  max_spread_bps: 10",
        "  backtest_bps: 5",
        "orders:",
        f"  entry_type: {v['entry']}",
        f"  exit_type: {v['exit_']}",
        f"  time_in_force: {v['tif']}",
        "  entry_timeout_s: 240",
        "  exit_timeout_s: 300",
        "  max_reprices: 3",
        "leverage:",
        f"  max: {v['leverage']:g}",
        "limits:",
        "  max_drawdown: 0.15",
        "  daily_loss_limit: 0.05",
        "  max_consecutive_stoplosses: 3",
    ]
    return out
