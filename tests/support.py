"""Helpers every test area shares: free ports, contract writers, Freqtrade row factories,
and one fake clock.  Import as ``from support import ...`` (``tests/`` is on sys.path
through its conftest)."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
STR001_CONTRACT = REPO_ROOT / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
FIVE_MIN_MS = 300_000


# ---------------------------------------------------------------- ports
def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- contracts
def deep_update(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, section by section (neither is modified)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = value
    return out


def write_contract(
    root: Path,
    changes: dict[str, Any] | None = None,
    *,
    strategy_id: str = "STR-001",
    base: Path = STR001_CONTRACT,
) -> Path:
    """STR-001's contract with ``changes`` merged in, written where the package looks for
    it: ``root/.crypto/knowledge/strategies/<id>/risk-assessment.yaml``."""
    data = deep_update(yaml.safe_load(base.read_text(encoding="utf-8")), changes or {})
    data["strategy_id"] = strategy_id
    path = root / ".crypto/knowledge/strategies" / strategy_id / "risk-assessment.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# ---------------------------------------------------------------- Freqtrade rows
def make_trade(**fields: Any) -> Any:
    """A Freqtrade ``Trade`` row (spot BTC/USDT, 1 BTC at 100, open) with ``fields`` set."""
    from freqtrade.persistence import Trade

    pair = fields.get("pair", "BTC/USDT")
    values: dict[str, Any] = {
        "pair": pair,
        "base_currency": pair.split("/")[0],
        "stake_currency": "USDT",
        "exchange": "binance",
        "stake_amount": 100.0,
        "amount": 1.0,
        "open_rate": 100.0,
        "open_date": datetime(2026, 1, 1),
        "fee_open": 0.001,
        "fee_close": 0.001,
        "is_open": True,
        "strategy": "STR001",
        "timeframe": 5,
    }
    values.update(fields)
    return Trade(**values)


def make_order(side: str, order_id: str, when: datetime, **fields: Any) -> Any:
    """A Freqtrade ``Order`` row: ``side`` is Freqtrade's ``ft_order_side`` ("buy", "sell",
    "stoploss"); a filled 1 BTC limit order at 100 unless ``fields`` say otherwise."""
    from freqtrade.persistence import Order

    price = fields.pop("price", 100.0)
    amount = fields.pop("amount", 1.0)
    filled = fields.pop("filled", amount)
    pair = fields.pop("pair", "BTC/USDT")
    values: dict[str, Any] = {
        "ft_order_side": side,
        "ft_pair": pair,
        "ft_is_open": False,
        "ft_amount": amount,
        "ft_price": price,
        "order_id": order_id,
        "status": "closed" if filled else "canceled",
        "symbol": pair,
        "order_type": "stop_loss_limit" if side == "stoploss" else "limit",
        "side": "sell" if side != "buy" else "buy",
        "price": price,
        "average": price if filled else None,
        "amount": amount,
        "filled": filled,
        "remaining": amount - filled,
        "order_date": when,
        "order_filled_date": when if filled else None,
    }
    values.update(fields)
    return Order(**values)


# ---------------------------------------------------------------- the fake clock
class FakeClock:
    """The one fake clock of the test suite.

    * ``FakeClock(start_ms)``: stands still at ``start_ms`` until a test moves it;
    * ``FakeClock()``: the wall clock plus an offset (for real bots whose loop must keep
      running), moved only forward by ``advance``/``align``.

    Call it for epoch milliseconds (what the venue injects), ``now()`` for an aware UTC
    datetime (what the mixin injects as ``strategy.clock``).
    """

    def __init__(self, start_ms: int | None = None) -> None:
        self._fixed = start_ms
        self.offset_ms = 0
        self.slept: list[float] = []  # seconds the code under test slept in this clock

    @property
    def t(self) -> int:
        return self.ms()

    @t.setter
    def t(self, ms: int) -> None:
        self._fixed = ms
        self.offset_ms = 0

    def ms(self) -> int:
        base = self._fixed if self._fixed is not None else int(time.time() * 1000)
        return base + self.offset_ms

    __call__ = ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ms() / 1000, tz=UTC)

    def advance(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)

    def sleep(self, seconds: float) -> None:
        """A ``time.sleep`` that moves this clock instead of waiting."""
        self.slept.append(seconds)
        self.advance(seconds)

    def align(self, seconds_into_candle: float, candle_ms: int = FIVE_MIN_MS) -> None:
        """Move forward to ``seconds_into_candle`` after the start of a candle."""
        pos = self.ms() % candle_ms
        self.offset_ms += (int(seconds_into_candle * 1000) - pos) % candle_ms
