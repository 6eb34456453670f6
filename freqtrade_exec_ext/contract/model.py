"""The risk contract, version 1: a typed, immutable model of ``risk-assessment.yaml``.

Every limit the package enforces is read from an instance of :class:`RiskContract`;
nothing else in the package holds a copy of these numbers.  Each field carries, in its
metadata, what it controls, its unit and what values are allowed.  The loader uses that
text in error messages, ``freqtrade-exec risk check`` in its table, and
``docs/risk-assessment.md`` is checked against it by the tests.

Units: ``bps`` are 1/10,000 of price; fractions are 0..1; money is in the stake currency.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from freqtrade_exec_ext.contract.fields import field_rows, spec

STRATEGY_ID_PATTERN = r"^STR-[0-9]{3,}$"
SCHEMA_VERSION = 1


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True
    )


# ---------------------------------------------------------------------------- market
class Market(_Section):
    exchange: str = spec(
        "binance",
        note="a Freqtrade-supported exchange id (lower case, e.g. binance, bybit, kraken)",
        desc="Exchange the strategy trades on.",
        min_length=1,
    )
    trading_mode: Literal["spot", "futures"] = spec(
        "spot", desc="Spot, or USDT-margined perpetual futures."
    )
    margin_mode: Literal["isolated", "cross"] = spec(
        "isolated",
        note="futures only",
        desc="Futures margin mode; must not be set on spot.",
    )
    stake_currency: str = spec(
        "USDT",
        note="an upper-case currency code, e.g. USDT",
        desc="Quote currency every stake and balance is counted in.",
        pattern=r"^[A-Z0-9]{2,10}$",
    )

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        known, bad = _exchange_ids()
        if value in bad:
            raise ValueError(f"Freqtrade does not support {value}: {bad[value]}")
        if value not in known:
            raise ValueError(f"'{value}' is not an exchange id ccxt/Freqtrade knows")
        return value


def _maintenance_margin(exchange: str, leverage: float) -> tuple[float, str]:
    from freqtrade_exec_ext.compat.exchange import maintenance_margin_estimate

    return maintenance_margin_estimate(exchange, leverage)


def _exchange_ids() -> tuple[frozenset[str], dict[str, str]]:
    from freqtrade_exec_ext.compat.exchange import exchange_ids

    return exchange_ids()


class Capital(_Section):
    initial_capital: float = spec(
        ...,
        desc="Capital allocated to the strategy: the paper wallet and the sizing base.",
        unit="stake currency",
        gt=0,
        le=1e9,
    )
    max_open_trades: int = spec(
        3,
        desc="Most trades open at once.",
        unit="trades",
        ge=1,
        le=100,
    )


SizingMethod = Literal["fixed_stake", "fraction_of_equity", "risk_per_trade"]


class Sizing(_Section):
    method: SizingMethod = spec(
        ...,
        desc="How the stake of a new trade is computed.",
    )
    fixed_stake: float = spec(
        100,
        note="required when method is fixed_stake",
        desc="Stake of every trade with method fixed_stake.",
        unit="stake currency",
        gt=0,
        le=1e9,
    )
    fraction_of_equity: float = spec(
        0.2,
        note="required when method is fraction_of_equity",
        desc="Share of current equity staked per trade with method fraction_of_equity.",
        unit="fraction",
        gt=0,
        le=1,
    )
    risk_per_trade: float = spec(
        0.01,
        note="required when method is risk_per_trade",
        desc=(
            "Share of equity lost if the stop-loss is hit, with method risk_per_trade: "
            "stake = equity x risk_per_trade / stop distance."
        ),
        unit="fraction",
        gt=0,
        le=0.1,
    )
    min_stake: float = spec(
        10,
        desc="Smallest stake; a computed stake below it is raised to it.",
        unit="stake currency",
        gt=0,
        le=1e9,
    )
    max_stake: float = spec(
        300,
        note=">= min_stake",
        desc="Largest stake; a computed stake above it is cut to it.",
        unit="stake currency",
        gt=0,
        le=1e9,
    )

    @model_validator(mode="after")
    def _stake_bounds(self) -> Sizing:
        key = self.method
        if key not in self.model_fields_set:
            raise ValueError(f"{key}: required when sizing.method is {self.method}")
        if self.max_stake < self.min_stake:
            raise ValueError(
                f"max_stake: must be >= min_stake ({self.min_stake:g}), was {self.max_stake:g}"
            )
        return self


class Trailing(_Section):
    enabled: bool = spec(False, desc="Use a trailing stop.")
    positive: float = spec(
        0.01,
        desc="Trailing distance once the offset is reached.",
        unit="fraction",
        gt=0,
        lt=1,
    )
    offset: float = spec(
        0.02,
        note=">= positive",
        desc="Profit at which the positive trailing distance takes over.",
        unit="fraction",
        gt=0,
        lt=1,
    )
    only_offset_is_reached: bool = spec(True, desc="Trail only once the offset profit is reached.")

    @model_validator(mode="after")
    def _offset_ge_positive(self) -> Trailing:
        if self.offset < self.positive:
            raise ValueError(
                f"offset: must be >= positive ({self.positive:g}), was {self.offset:g}"
            )
        return self


class StopLoss(_Section):
    stoploss: float = spec(
        ...,
        desc="Stop-loss as a (negative) ratio of the entry price.",
        unit="fraction",
        gt=-1,
        lt=0,
    )
    trailing: Trailing = Field(default_factory=Trailing)
    on_exchange: bool = spec(
        True,
        desc="Place the stop-loss on the exchange where the exchange supports it.",
    )
    order_type: Literal["stop_limit", "stop_market"] = spec(
        "stop_limit",
        desc="Order type of the stop on the exchange.",
    )
    limit_ratio: float = spec(
        0.99,
        desc="Limit price of a stop_limit as a ratio of its stop price (longs).",
        unit="ratio",
        gt=0,
        le=1,
    )


class Slippage(_Section):
    max_entry_bps: float = spec(
        ...,
        desc="Most adverse entry fill vs the decision price.",
        unit="bps",
        ge=0,
        le=500,
    )
    max_exit_bps: float = spec(
        ...,
        desc="Most adverse exit fill vs the decision price.",
        unit="bps",
        ge=0,
        le=500,
    )
    max_spread_bps: float = spec(
        10,
        desc="No entry while the quoted spread is wider than this.",
        unit="bps",
        ge=0,
        le=500,
    )
    backtest_bps: float = spec(
        5,
        desc="Adverse slippage charged on every fill the callbacks can reach in backtests.",
        unit="bps",
        ge=0,
        le=500,
    )
    backtest_model: str | None = spec(
        None,
        unit="path",
        min_length=1,
        exclude_if=lambda v: v is None,  # fingerprints kept
        note="written by freqtrade-exec calibrate; relative to this contract's folder",
        desc="Execution model backtests charge instead of backtest_bps (slippage, fees and "
        "maker fills modelled per fill); absent: backtest_bps applies.",
    )


class Orders(_Section):
    entry_type: Literal["limit", "market"] = spec("limit", desc="Order type of entries.")
    exit_type: Literal["limit", "market"] = spec("limit", desc="Order type of exits.")
    time_in_force: Literal["GTC", "IOC", "FOK", "PO"] = spec(
        "GTC",
        desc="Time in force of entry and exit orders (PO = post-only, maker only).",
    )
    entry_timeout_s: int = spec(
        240,
        desc="An unfilled entry is cancelled (or a partial fill kept) after this long.",
        unit="seconds",
        gt=0,
        le=86_400,
    )
    exit_timeout_s: int = spec(
        300,
        desc="An unfilled exit is escalated after this long.",
        unit="seconds",
        gt=0,
        le=86_400,
    )
    max_reprices: int = spec(
        3,
        desc="Most times an unfilled order is repriced toward the market.",
        unit="reprices",
        ge=0,
        le=10,
    )
    min_fill_ratio: float = spec(
        0.5,
        desc="At the entry timeout a partial fill at least this large is kept.",
        unit="fraction",
        ge=0,
        le=1,
    )
    max_retries: int = spec(
        2,
        desc=(
            "Live: further attempts of an order request the exchange did not process (rate "
            "limit, network). A refused order is never retried; an unanswered one is looked "
            "up by its client order id, never sent blindly again."
        ),
        unit="retries",
        ge=0,
        le=10,
    )


class Leverage(_Section):
    max: float = spec(1, note="must be 1 on spot", desc="Highest leverage.", unit="x", ge=1, le=125)


class Funding(_Section):
    max_rate_bps: float = spec(
        5,
        desc="No futures entry that would pay a funding rate above this per interval.",
        unit="bps per funding interval",
        ge=0,
        le=500,
    )


class Limits(_Section):
    """Loss and breakdown limits: Freqtrade protections on realized results, and the kill
    switch (open trades' unrealised PnL included), graded REDUCING -> FLATTEN -> HALTED."""

    max_drawdown: float = spec(
        0.15,
        desc=(
            "No new entries while the drawdown from peak equity exceeds this (kill switch "
            "REDUCING, open trades' unrealised PnL included; Freqtrade's MaxDrawdown "
            "protection on realized equity too)."
        ),
        unit="fraction",
        gt=0,
        lt=1,
    )
    daily_loss_limit: float = spec(
        0.05,
        desc=(
            "No new entries for the day once the day's loss exceeds this share of capital "
            "(kill switch REDUCING with unrealised PnL; DailyLossGuard on realized loss)."
        ),
        unit="fraction",
        gt=0,
        lt=1,
    )
    max_consecutive_stoplosses: int = spec(
        3,
        desc="Trading pauses after this many stop-losses in a row.",
        unit="stop-losses",
        ge=1,
        le=100,
    )
    flatten_ratio: float = spec(
        1.5,
        desc=(
            "Kill switch FLATTEN (exit every trade, then HALTED until `freqtrade-exec "
            "resume`) once the drawdown or the day's loss reaches this multiple of its limit."
        ),
        unit="x limit",
        ge=1,
        le=10,
    )
    max_fills_over_budget: int = spec(
        5,
        desc="Kill switch REDUCING after this many fills in a row over the slippage budget.",
        unit="fills",
        ge=1,
        le=100,
    )
    max_rejection_rate: float = spec(
        0.5,
        desc=(
            "Kill switch REDUCING while this share of the last rejection_window order "
            "attempts was rejected by the exchange."
        ),
        unit="fraction",
        gt=0,
        le=1,
    )
    rejection_window: int = spec(
        20,
        desc="Order attempts the rejection rate is measured over.",
        unit="orders",
        ge=2,
        le=1000,
    )
    stale_data_s: int = spec(
        600,
        desc=(
            "Kill switch REDUCING while the newest candle closed more than one timeframe "
            "plus this long ago."
        ),
        unit="seconds",
        ge=1,
        le=86_400,
    )
    max_exchange_error_loops: int = spec(
        12,
        desc="Kill switch REDUCING after this many bot loops in a row with exchange errors.",
        unit="bot loops",
        ge=1,
        le=1000,
    )
    flatten_max_loops: int = spec(
        30,
        desc=(
            "Bot loops FLATTEN may take; then HALTED even if trades are still open (they "
            "keep being exited, and an alert names them)."
        ),
        unit="bot loops",
        ge=1,
        le=1000,
    )


class RiskContract(_Section):
    """Version 1 of ``risk-assessment.yaml``."""

    schema_version: int = spec(..., note="must be 1", desc="Contract format version.")
    strategy_id: str = spec(
        ...,
        note="STR- and 3 or more digits, e.g. STR-001; must match its folder",
        desc="Strategy the contract belongs to.",
        pattern=STRATEGY_ID_PATTERN,
    )
    market: Market = Field(default_factory=Market)
    capital: Capital
    sizing: Sizing
    stop_loss: StopLoss
    slippage: Slippage
    orders: Orders = Field(default_factory=Orders)
    leverage: Leverage = Field(default_factory=Leverage)
    funding: Funding = Field(default_factory=Funding)
    limits: Limits = Field(default_factory=Limits)

    @model_validator(mode="after")
    def _cross_field(self) -> RiskContract:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"schema_version: must be {SCHEMA_VERSION}, was {self.schema_version}")
        if self.market.trading_mode == "spot" and self.leverage.max != 1:
            raise ValueError(f"leverage.max: must be 1 on spot, was {self.leverage.max:g}")
        if self.is_futures:
            self._stop_inside_liquidation()
        if not self.is_futures and "margin_mode" in self.market.model_fields_set:
            raise ValueError("market.margin_mode: applies only when trading_mode is futures")
        if self.orders.time_in_force == "PO" and "market" in (
            self.orders.entry_type,
            self.orders.exit_type,
        ):
            raise ValueError(
                "orders.time_in_force: PO (post-only) needs limit entry_type and exit_type"
            )
        return self

    def _stop_inside_liquidation(self) -> None:
        lev = self.leverage.max
        move = self.liquidation_move()
        stop = abs(self.stop_loss.stoploss)
        if stop >= move:
            _, how = _maintenance_margin(self.market.exchange, lev)
            raise ValueError(
                f"stop_loss.stoploss: {self.stop_loss.stoploss:g} (a {stop:.2%} "
                f"price move) lies at or beyond the liquidation price at leverage.max {lev:g}x, "
                f"a {move:.2%} move (1/{lev:g} of the price is the margin, less the "
                f"maintenance margin: {how}); tighten the stop or lower leverage.max"
            )

    def liquidation_move(self) -> float:
        """Estimated price move from entry that liquidates an isolated position at
        ``leverage.max`` (futures)."""
        from freqtrade_exec_ext.execution.stops import liquidation_move

        rate, _ = _maintenance_margin(self.market.exchange, self.leverage.max)
        return liquidation_move(self.leverage.max, rate)

    # ------------------------------------------------------------------ helpers
    @property
    def is_futures(self) -> bool:
        return self.market.trading_mode == "futures"

    def normalized(self) -> dict[str, Any]:
        """Every field with defaults filled in, as plain JSON types."""
        return self.model_dump(mode="json")

    def fingerprint(self) -> str:
        """sha256 of the normalized contract: equal numbers give equal fingerprints."""
        blob = json.dumps(self.normalized(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def field_docs() -> list[tuple[str, str, str, str, str, str]]:
    """Rows of (path, type, required/default, allowed, unit, description) for every field."""
    return field_rows(RiskContract)
