"""Fixtures for the local exchange: one server on a free port, on the repo's shipped candles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from support import FakeClock

from freqtrade_exec_ext.localex.server import LocalExchange

REPLAY_START = datetime(2025, 10, 15, 12, 0, tzinfo=UTC)
REPO_DATADIR = Path(__file__).resolve().parents[2] / "user_data" / "data" / "binance"


@pytest.fixture(scope="session")
def repo_datadir() -> Path:
    if not (REPO_DATADIR / "BTC_USDT-5m.feather").is_file():
        pytest.skip(f"shipped candles missing in {REPO_DATADIR}")
    return REPO_DATADIR


@pytest.fixture(scope="session")
def localex(repo_datadir: Path) -> Iterator[LocalExchange]:
    # a fixed replay start keeps the replayed hour (and its volumes) the same on every run
    with LocalExchange(repo_datadir, port=0, start_at=REPLAY_START) as ex:
        yield ex


@pytest.fixture(scope="session")
def btc_5m(repo_datadir: Path) -> pd.DataFrame:
    df = pd.read_feather(repo_datadir / "BTC_USDT-5m.feather")
    df["ms"] = df["date"].astype("int64") // 1_000_000
    return df.set_index("ms")


@pytest.fixture
def ccxt_client(localex: LocalExchange):
    import ccxt

    from freqtrade_exec_ext.localex import ccxt_urls

    client = ccxt.binance(ccxt_urls(localex.base_url))
    client.load_markets()
    return client


# ---------------------------------------------------------------- trading (pure engine)

# The BTC/USDT 5m candle of 2025-10-16 09:40 UTC rises: open 109800.10, low 109635.15,
# high 111427.48, close 111230.00.  Its linear path (the matching tests' venue) falls
# open -> low over the first 100 s, rises to the high by 200 s and ends at the close.
RISING_CANDLE = datetime(2025, 10, 16, 9, 40, tzinfo=UTC)


@pytest.fixture(scope="session")
def rising_candle() -> datetime:
    return RISING_CANDLE




START_MS = 1_900_000_200_000 - 1_900_000_200_000 % 300_000 + 1_000  # 1 s into a candle


@pytest.fixture(scope="session")
def _session_market(repo_datadir: Path):
    from freqtrade_exec_ext.localex.intracandle import LINEAR
    from freqtrade_exec_ext.localex.venue import MarketVenue

    clock = FakeClock(START_MS)
    # the matching tests reason on the straight open -> low -> high -> close path; the
    # default (bridge) path has its own tests (test_localex_intracandle.py)
    venue = MarketVenue(repo_datadir, start_at=RISING_CANDLE, now_ms=clock, path_model=LINEAR)
    return venue, clock


@pytest.fixture
def fake_clock(_session_market) -> FakeClock:
    """The venue's wall clock, back at 1 s into the 09:40 candle for every test."""
    clock = _session_market[1]
    clock.t = START_MS
    return clock


@pytest.fixture
def market(_session_market, fake_clock: FakeClock):
    return _session_market[0]


@pytest.fixture
def engine(market):
    from freqtrade_exec_ext.localex.trading import TradingEngine

    return TradingEngine(
        market, spot_balances={"USDT": 100_000.0, "BTC": 1.0}, futures_balance=10_000.0
    )
