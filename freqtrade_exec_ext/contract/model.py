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

STRATEGY_ID_PATTERN = r"^STR-[0-9]{3,}$"
SCHEMA_VERSION = 1


def spec(
    default: Any,
    *,
    allowed: str,
    desc: str,
    unit: str = "",
    **constraints: Any,
) -> Any:
    """Declare a contract field with its default, constraints and documentation."""
    extra = {"allowed": allowed, "unit": unit}
    return Field(default, description=desc, json_schema_extra=extra, **constraints)


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True
    )


# ---------------------------------------------------------------------------- market
class Market(_Section):
    exchange: str = spec(
        "binance",
        allowed="a Freqtrade-supported exchange id (lower case, e.g. binance, bybit, kraken)",
        desc="Exchange the strategy trades on.",
        min_length=1,
    )
    trading_mode: Literal["spot", "futures"] = spec(
        "spot", allowed="spot | futures", desc="Spot, or USDT-margined perpetual futures."
    )
    margin_mode: Literal["isolated", "cross"] = spec(
        "isolated",
        allowed="isolated | cross (futures only)",
        desc="Futures margin mode; must not be set on spot.",
    )
    stake_currency: str = spec(
        "USDT",
        allowed="an upper-case currency code, e.g. USDT",
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


def _exchange_ids() -> tuple[frozenset[str], dict[str, str]]:
    from freqtrade_exec_ext.compat.exchange import exchange_ids

    return exchange_ids()


class Capital(_Section):
    initial_capital: float = spec(
        ...,
        allowed="number > 0 (required)",
        desc="Capital allocated to the strategy: the paper wallet and the sizing base.",
        unit="stake currency",
        gt=0,
    )
    max_open_trades: int = spec(
        3, allowed="integer >= 1", desc="Most trades open at once.", unit="trades", ge=1
    )


SizingMethod = Literal["fixed_stake", "fraction_of_equity", "risk_per_trade"]


class Sizing(_Section):
    method: SizingMethod = spec(
        ...,
        allowed="fixed_stake | fraction_of_equity | risk_per_trade (required)",
        desc="How the stake of a new trade is computed.",
    )
    fixed_stake: float = spec(
        100,
        allowed="number > 0; required when method is fixed_stake",
        desc="Stake of every trade with method fixed_stake.",
        unit="stake currency",
        gt=0,
    )
    fraction_of_equity: float = spec(
        0.2,
        allowed="number in (0, 1]; required when method is fraction_of_equity",
        desc="Share of current equity staked per trade with method fraction_of_equity.",
        unit="fraction",
        gt=0,
        le=1,
    )
    risk_per_trade: float = spec(
        0.01,
        allowed="number in (0, 0.1]; required when method is risk_per_trade",
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
        allowed="number > 0",
        desc="Smallest stake; a computed stake below it is raised to it.",
        unit="stake currency",
        gt=0,
    )
    max_stake: float = spec(
        300,
        allowed="number >= min_stake",
        desc="Largest stake; a computed stake above it is cut to it.",
        unit="stake currency",
        gt=0,
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
    enabled: bool = spec(False, allowed="true | false", desc="Use a trailing stop.")
    positive: float = spec(
        0.01,
        allowed="number in (0, 1)",
        desc="Trailing distance once the offset is reached.",
        unit="fraction",
        gt=0,
        lt=1,
    )
    offset: float = spec(
        0.02,
        allowed="number in (0, 1), >= positive",
        desc="Profit at which the positive trailing distance takes over.",
        unit="fraction",
        gt=0,
        lt=1,
    )
    only_offset_is_reached: bool = spec(
        True, allowed="true | false", desc="Trail only once the offset profit is reached."
    )

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
        allowed="number in (-1, 0) (required)",
        desc="Stop-loss as a (negative) ratio of the entry price.",
        unit="fraction",
        gt=-1,
        lt=0,
    )
    trailing: Trailing = Field(default_factory=Trailing)
    on_exchange: bool = spec(
        True,
        allowed="true | false",
        desc="Place the stop-loss on the exchange where the exchange supports it.",
    )
    order_type: Literal["stop_limit", "stop_market"] = spec(
        "stop_limit",
        allowed="stop_limit | stop_market",
        desc="Order type of the stop on the exchange.",
    )
    limit_ratio: float = spec(
        0.99,
        allowed="number in (0, 1]",
        desc="Limit price of a stop_limit as a ratio of its stop price (longs).",
        unit="ratio",
        gt=0,
        le=1,
    )


class Slippage(_Section):
    max_entry_bps: float = spec(
        ...,
        allowed="number in [0, 500] (required)",
        desc="Most adverse entry fill vs the decision price.",
        unit="bps",
        ge=0,
        le=500,
    )
    max_exit_bps: float = spec(
        ...,
        allowed="number in [0, 500] (required)",
        desc="Most adverse exit fill vs the decision price.",
        unit="bps",
        ge=0,
        le=500,
    )
    max_spread_bps: float = spec(
        10,
        allowed="number in [0, 500]",
        desc="No entry while the quoted spread is wider than this.",
        unit="bps",
        ge=0,
        le=500,
    )
    backtest_bps: float = spec(
        5,
        allowed="number in [0, 500]",
        desc="Adverse slippage charged on every fill the callbacks can reach in backtests.",
        unit="bps",
        ge=0,
        le=500,
    )


class Orders(_Section):
    entry_type: Literal["limit", "market"] = spec(
        "limit", allowed="limit | market", desc="Order type of entries."
    )
    exit_type: Literal["limit", "market"] = spec(
        "limit", allowed="limit | market", desc="Order type of exits."
    )
    time_in_force: Literal["GTC", "IOC", "FOK", "PO"] = spec(
        "GTC",
        allowed="GTC | IOC | FOK | PO",
        desc="Time in force of entry and exit orders (PO = post-only, maker only).",
    )
    entry_timeout_s: int = spec(
        600,
        allowed="integer > 0",
        desc="An unfilled entry is cancelled (or a partial fill kept) after this long.",
        unit="seconds",
        gt=0,
    )
    exit_timeout_s: int = spec(
        300,
        allowed="integer > 0",
        desc="An unfilled exit is escalated after this long.",
        unit="seconds",
        gt=0,
    )
    max_reprices: int = spec(
        3,
        allowed="integer >= 0",
        desc="Most times an unfilled order is repriced toward the market.",
        unit="reprices",
        ge=0,
    )
    min_fill_ratio: float = spec(
        0.5,
        allowed="number in [0, 1]",
        desc="At the entry timeout a partial fill at least this large is kept.",
        unit="fraction",
        ge=0,
        le=1,
    )
    max_retries: int = spec(
        2,
        allowed="integer >= 0",
        desc=(
            "Live: further attempts of an order request the exchange did not process (rate "
            "limit, network). A refused order is never retried; an unanswered one is looked "
            "up by its client order id, never sent blindly again."
        ),
        unit="retries",
        ge=0,
    )


class Leverage(_Section):
    max: float = spec(
        1, allowed="number >= 1; must be 1 on spot", desc="Highest leverage.", unit="x", ge=1
    )


class Funding(_Section):
    max_rate_bps: float = spec(
        5,
        allowed="number >= 0",
        desc="No futures entry that would pay a funding rate above this per interval.",
        unit="bps per funding interval",
        ge=0,
    )


class Limits(_Section):
    max_drawdown: float = spec(
        0.15,
        allowed="number in (0, 1)",
        desc="Trading stops while the drawdown exceeds this.",
        unit="fraction",
        gt=0,
        lt=1,
    )
    daily_loss_limit: float = spec(
        0.05,
        allowed="number in (0, 1)",
        desc="Trading stops for the day once realized loss exceeds this share of capital.",
        unit="fraction",
        gt=0,
        lt=1,
    )
    max_consecutive_stoplosses: int = spec(
        3,
        allowed="integer >= 1",
        desc="Trading pauses after this many stop-losses in a row.",
        unit="stop-losses",
        ge=1,
    )


class RiskContract(_Section):
    """Version 1 of ``risk-assessment.yaml``."""

    schema_version: int = spec(..., allowed="1 (required)", desc="Contract format version.")
    strategy_id: str = spec(
        ...,
        allowed="STR- and 3 or more digits, e.g. STR-001; must match its folder (required)",
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
    rows: list[tuple[str, str, str, str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            path = f"{prefix}{name}"
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, path + ".")
                continue
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            default = "required" if info.is_required() else json.dumps(info.default)
            type_name = getattr(ann, "__name__", str(ann)).replace("Literal", "enum")
            if str(ann).startswith("typing.Literal"):
                type_name = "enum"
            rows.append(
                (
                    path,
                    type_name,
                    default,
                    str(extra.get("allowed", "")),
                    str(extra.get("unit", "")),
                    info.description or "",
                )
            )

    walk(RiskContract, "")
    return rows
