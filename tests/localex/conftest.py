"""Fixtures for the local exchange: one server on a free port, on the repo's shipped candles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

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
