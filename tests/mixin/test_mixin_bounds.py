"""No order without its bound: when the decision price or the tick size cannot be read,
the entry is skipped with a reason code (it used to go out with no budget bound)."""

from __future__ import annotations

import logging

import pytest
from mixin_helpers import base_config, run_backtest

pytestmark = pytest.mark.slow


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log_lines():
    handler = _Collect()
    logger = logging.getLogger("freqtrade_exec_ext")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def test_entries_without_a_bound_are_skipped_with_a_reason_code(
    localex, tmp_path, str001_contract_path, monkeypatch, log_lines
):
    from freqtrade.data.dataprovider import DataProvider

    from freqtrade_exec_ext import compat

    original_frame = DataProvider.get_analyzed_dataframe
    original_tick = compat.price_tick

    def frame(self, pair, timeframe):
        df, when = original_frame(self, pair, timeframe)
        if pair == "BTC/USDT":  # e.g. the analyzed frame was lost: no decision price
            return df.iloc[0:0], when
        return df, when

    def tick(dp, pair):
        return None if pair == "ETH/USDT" else original_tick(dp, pair)

    monkeypatch.setattr(DataProvider, "get_analyzed_dataframe", frame)
    monkeypatch.setattr(compat, "price_tick", tick)
    cfg = base_config(localex.base_url, tmp_path / "user_data",
                      exec_ext={"risk_contract": str(str001_contract_path)})
    results, _ = run_backtest(cfg, tmp_path, timerange="20251001-20251201")
    pairs = {t["pair"] for t in results["trades"]}
    assert pairs and not pairs & {"BTC/USDT", "ETH/USDT"}, pairs
    skipped = [line for line in log_lines if "entry skipped" in line]
    assert any("BTC/USDT" in s and "DECISION_PRICE_UNKNOWN" in s for s in skipped), skipped[:5]
    assert any("ETH/USDT" in s and "TICK_SIZE_UNKNOWN" in s for s in skipped), skipped[:5]
