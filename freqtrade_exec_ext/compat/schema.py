"""Freqtrade's database schema, for code that reads a bot's database with plain SQL.

The report (``report/``) and the stage evidence (``deploy/evidence.py``) read Freqtrade's
SQLite/PostgreSQL files directly, without Freqtrade's ORM, for speed and so that a copy of
a database can be checked offline.  They name tables and columns only through this module,
which takes them from Freqtrade's own SQLAlchemy models: if Freqtrade renames one,
:func:`missing_columns` says which, and ``tests/compat`` fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class FreqtradeTables:
    orders: str
    trades: str
    custom_data: str
    wallet_history: str
    key_value_store: str
    pairlocks: str


@cache
def tables() -> FreqtradeTables:
    """Table names, from Freqtrade's models."""
    from freqtrade.persistence.custom_data import _CustomData
    from freqtrade.persistence.key_value_store import _KeyValueStoreModel
    from freqtrade.persistence.pairlock import PairLock
    from freqtrade.persistence.trade_model import Order, Trade
    from freqtrade.persistence.wallet_history import WalletHistory

    return FreqtradeTables(
        orders=Order.__tablename__,
        trades=Trade.__tablename__,
        custom_data=_CustomData.__tablename__,
        wallet_history=WalletHistory.__tablename__,
        key_value_store=_KeyValueStoreModel.__tablename__,
        pairlocks=PairLock.__tablename__,
    )


# Columns this package reads, per table (logical name -> Freqtrade's column).
ORDER_COLUMNS: tuple[str, ...] = (
    "id",
    "ft_trade_id",
    "ft_order_side",
    "ft_pair",
    "ft_is_open",
    "ft_amount",
    "ft_price",
    "ft_order_tag",
    "order_id",
    "status",
    "symbol",
    "order_type",
    "side",
    "price",
    "average",
    "amount",
    "filled",
    "remaining",
    "cost",
    "stop_price",
    "order_date",
    "order_filled_date",
    "order_update_date",
    "ft_fee_base",
    "funding_fee",
)
TRADE_COLUMNS: tuple[str, ...] = (
    "id",
    "exchange",
    "pair",
    "base_currency",
    "stake_currency",
    "is_open",
    "fee_open",
    "fee_close",
    "open_rate",
    "open_rate_requested",
    "close_rate",
    "close_rate_requested",
    "realized_profit",
    "close_profit",
    "close_profit_abs",
    "stake_amount",
    "amount",
    "open_date",
    "close_date",
    "stop_loss",
    "stop_loss_pct",
    "initial_stop_loss",
    "initial_stop_loss_pct",
    "is_stop_loss_trailing",
    "strategy",
    "enter_tag",
    "exit_reason",
    "timeframe",
    "trading_mode",
    "leverage",
    "is_short",
    "funding_fees",
    "max_rate",
    "min_rate",
    "price_precision",
    "precision_mode_price",
)
CUSTOM_DATA_COLUMNS: tuple[str, ...] = (
    "id",
    "ft_trade_id",
    "cd_key",
    "cd_type",
    "cd_value",
    "created_at",
    "updated_at",
)


def model_columns() -> dict[str, frozenset[str]]:
    """Every column of the tables above, as Freqtrade's models define them."""
    from freqtrade.persistence.custom_data import _CustomData
    from freqtrade.persistence.trade_model import Order, Trade

    t = tables()
    return {
        t.orders: frozenset(c.name for c in Order.__table__.columns),
        t.trades: frozenset(c.name for c in Trade.__table__.columns),
        t.custom_data: frozenset(c.name for c in _CustomData.__table__.columns),
    }


def missing_columns() -> list[str]:
    """``table.column`` this package reads that Freqtrade's models do not define."""
    t = tables()
    have = model_columns()
    wanted = {t.orders: ORDER_COLUMNS, t.trades: TRADE_COLUMNS, t.custom_data: CUSTOM_DATA_COLUMNS}
    return [
        f"{table}.{col}" for table, cols in wanted.items() for col in cols if col not in have[table]
    ]


# The same names declared without importing Freqtrade: its models take about 2 s to import,
# which plain-SQL readers (the report) cannot afford.  :func:`mismatched_tables` compares
# them with :func:`tables` (``tests/report/test_schema_names.py``).
TABLES = FreqtradeTables(
    orders="orders",
    trades="trades",
    custom_data="trade_custom_data",
    wallet_history="wallet_history",
    key_value_store="KeyValueStore",
    pairlocks="pairlocks",
)


def mismatched_tables() -> list[str]:
    """``field: declared != Freqtrade's`` for each table name that differs."""
    actual = tables()
    return [
        f"{f}: {getattr(TABLES, f)!r} != {getattr(actual, f)!r}"
        for f in TABLES.__dataclass_fields__
        if getattr(TABLES, f) != getattr(actual, f)
    ]
