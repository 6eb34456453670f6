"""Freqtrade's database: trades, orders and custom data, for the guard and the plugins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def trades_since(pair: str | None, since: datetime) -> list[Any]:
    """Open trades and trades closed after ``since`` (live DB or backtest memory)."""
    from freqtrade.persistence.trade_model import Trade

    closed = Trade.get_trades_proxy(pair=pair, is_open=False, close_date=since)
    still_open = Trade.get_trades_proxy(pair=pair, is_open=True)
    return list(closed) + list(still_open)


def closed_trades_since(since: datetime) -> list[Any]:
    from freqtrade.persistence.trade_model import Trade

    return list(Trade.get_trades_proxy(is_open=False, close_date=since))


def trade_custom_data(trade: Any, prefix: str) -> list[tuple[str, Any]]:
    """``(key, value)`` of a trade's custom data whose key starts with ``prefix``."""
    out = []
    for entry in trade.get_all_custom_data():
        key = getattr(entry, "cd_key", "")
        if key.startswith(prefix):
            out.append((key, entry.value))
    return out


def trade_by_id(trade_id: int) -> Any:
    """A trade of Freqtrade's database by id (None when gone)."""
    from freqtrade.persistence.trade_model import Trade

    return Trade.session.get(Trade, trade_id)


def db_engine() -> Any:
    """The SQLAlchemy engine of Freqtrade's database (after ``init_db``)."""
    from freqtrade.persistence.trade_model import Trade

    session = getattr(Trade, "session", None)
    if session is None:
        raise RuntimeError("Freqtrade's database is not initialised")
    return session.get_bind()


def order_is_tracked(order_id: str, pair: str) -> bool:
    """Whether Freqtrade's orders table holds this exchange order."""
    from freqtrade.persistence.trade_model import Order

    return Order.order_by_id(str(order_id), pair) is not None


def _as_open_order(order: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ccxt order that Freqtrade will take as open and unfilled, so that its
    next loop fetches the order and accounts for the fills itself (fees, trade amounts,
    ``order_filled``) exactly as for an order it placed."""
    out = dict(order)
    out.update(
        {
            "status": "open",
            "filled": 0.0,
            "remaining": order.get("amount"),
            "cost": 0.0,
            "average": None,
            "trades": [],
            "fee": None,
        }
    )
    return out


def adopt_order(
    exchange: Any,
    strategy: Any,
    intent: Any,
    order: dict[str, Any],
    exit_reason_of: Callable[[Any], str | None] = lambda trade: None,
) -> str:
    """Hand Freqtrade an order it placed but never saved (see order_guard.py).

    An entry becomes a new trade, as ``FreqtradeBot.execute_entry`` builds one; an exit or
    stop-loss joins the pair's open trade, with the exit reason the strategy recorded when
    it decided the exit (``exit_reason_of(trade)``), else Freqtrade's "sold_on_exchange".
    Returns where it went, for the journal.
    """
    from freqtrade.exchange import timeframe_to_minutes
    from freqtrade.persistence.trade_model import Order, Trade

    pair = intent.pair
    amount = float(order.get("amount") or intent.amount)
    price = float(order.get("price") or order.get("average") or intent.price or 0.0)
    if intent.intent == "entry":
        fee = exchange.get_fee(symbol=pair, taker_or_maker="maker")
        config = strategy.config
        leverage = float(intent.leverage or 1.0)
        is_short = intent.side == "sell"
        ts = order.get("timestamp")
        opened = datetime.fromtimestamp(ts / 1000, tz=UTC) if ts else datetime.now(UTC)
        trade = Trade(
            pair=pair,
            base_currency=exchange.get_pair_base_currency(pair),
            stake_currency=config["stake_currency"],
            stake_amount=amount * price / leverage,
            amount=0,
            is_open=True,
            amount_requested=amount,
            fee_open=fee,
            fee_close=fee,
            open_rate=price,
            open_rate_requested=price,
            open_date=opened,
            exchange=exchange.id,
            strategy=strategy.get_strategy_name(),
            enter_tag=intent.enter_tag,
            timeframe=timeframe_to_minutes(config["timeframe"]),
            leverage=leverage,
            is_short=is_short,
            trading_mode=exchange.trading_mode,
            funding_fees=0.0,
            amount_precision=exchange.get_precision_amount(pair),
            price_precision=exchange.get_precision_price(pair),
            precision_mode=exchange.precisionMode,
            precision_mode_price=exchange.precision_mode_price,
            contract_size=exchange.get_contract_size(pair),
        )
        trade.adjust_stop_loss(trade.open_rate, strategy.stoploss, initial=True)
        side = intent.side
        where = "a new trade"
    else:
        open_trades = Trade.get_trades_proxy(pair=pair, is_open=True)
        if not open_trades:
            return (
                f"NOT ADOPTED: no open trade for {pair} to attach this {intent.intent} to; "
                "check the account on the exchange"
            )
        trade = open_trades[0]
        side = "stoploss" if intent.intent == "stoploss" else trade.exit_side
        where = f"trade {trade.id}"
        reason = "stoploss_on_exchange" if intent.intent == "stoploss" else None
        trade.exit_reason = reason or exit_reason_of(trade) or "sold_on_exchange"
    order_obj = Order.parse_from_ccxt_object(_as_open_order(order), pair, side, amount, price)
    order_obj.ft_order_tag = intent.enter_tag if intent.intent == "entry" else trade.exit_reason
    trade.orders.append(order_obj)
    Trade.session.add(trade)
    Trade.commit()
    if intent.intent == "entry":
        where = f"new trade {trade.id}"
    return f"{where}; Freqtrade accounts for its fills on its next loop"


def canceled_exit_orders(trade: Any) -> int:
    """Freqtrade's count of a trade's cancelled exit orders, which ``exit_timeout_count``
    is compared with (every cancelled exit order of the trade, replacements included)."""
    return int(trade.get_canceled_exit_order_count())


def open_trades(pair: str | None = None) -> list[Any]:
    """Open trades (live database or backtest memory), of ``pair`` when given."""
    from freqtrade.persistence.trade_model import Trade

    return list(Trade.get_trades_proxy(pair=pair, is_open=True))


def cancelled_by_user(order: Any) -> bool:
    """Whether Freqtrade cancelled ``order`` because someone asked it to (REST
    ``DELETE /trades/<id>/open-order``, the first step of ``freqtrade-exec kill``)."""
    from freqtrade.constants import CANCEL_REASON

    return str(getattr(order, "ft_cancel_reason", "") or "").startswith(
        CANCEL_REASON["USER_CANCEL"]
    )


def entries_stopped() -> bool:
    """Whether the running bot was told to stop entering (REST ``/stopentry``: state
    ``paused``).  False when the REST API does not run (nobody could have asked)."""
    try:
        from freqtrade.enums import State
        from freqtrade.rpc.api_server.webserver import ApiServer

        rpc = getattr(ApiServer, "_rpc", None) if getattr(ApiServer, "_has_rpc", False) else None
        bot = getattr(rpc, "_freqtrade", None)
        return bot is not None and bot.state == State.PAUSED
    except Exception:  # noqa: BLE001 - unknown reads as "not stopped"
        return False
