"""``/metrics`` scraped over HTTP from a dry-run bot on the local exchange (Freqtrade's REST
API on 127.0.0.1), each value checked against the bot's database."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime

import pytest

from .conftest import free_port
from .opsbots import DryRunApiBot

pytestmark = pytest.mark.slow

# STR001 signals on the BTC/USDT 5m candle of 2025-10-16 09:35; 09:40 fills, then exits
START = datetime(2025, 10, 16, 9, 40, tzinfo=UTC)


def scrape(port: int) -> tuple[str, dict[str, float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return text, values


def test_metrics_scraped_from_a_dry_run_bot_equal_the_database(mocker, tmp_path, capsys):
    from freqtrade.persistence import Trade

    from freqtrade_exec_ext.store.killswitch import KillSwitchStore

    port = free_port()
    lb = DryRunApiBot(mocker, tmp_path, start_at=START, seconds_into_candle=3,
                      pairs=["BTC/USDT"], api_port=port)
    try:
        lb.start_bot()
        lb.step()
        lb.clock.align(5)
        assert lb.run_until(lambda: lb.trades() and not lb.trades()[0].is_open,
                            step_s=10, max_s=600)
        lb.step()
        text, m = scrape(port)
        ledger = lb.ledger()
        assert len(ledger) == 2  # the entry and the exit
        # fills and notional, by the ledger rows in the bot's database
        fills = {k: v for k, v in m.items() if k.startswith("exec_ext_fills_total{")}
        assert sum(fills.values()) == len(ledger)
        for rec in ledger:
            key = (f'exec_ext_fills_total{{intent="{rec.intent}",liquidity="{rec.liquidity}",'
                   f'pair="{rec.pair}",side="{rec.side}"}}')
            assert m[key] == 1.0
        # slippage histogram: count and sum per side equal the ledger's
        # slippage histogram (bps): every cumulative bucket counts the ledger's fills at
        # or under its bound (no _sum: prometheus_client drops it with negative bounds)
        from freqtrade_exec_ext.metrics.registry import SLIPPAGE_BUCKETS_BPS

        for rec in ledger:
            labels = f'pair="{rec.pair}",side="{rec.side}"'
            assert m[f"exec_ext_slippage_bps_count{{{labels}}}"] == 1.0
            for le in SLIPPAGE_BUCKETS_BPS:
                want = 1.0 if rec.slippage_decision_bps <= le else 0.0
                assert m[f'exec_ext_slippage_bps_bucket{{le="{le}",{labels}}}'] == want
            cost = rec.slippage_decision_bps * rec.notional / 1e4 + (
                rec.fee_cost * (rec.fill_price if rec.fee_currency == "BTC" else 1.0))
            assert m[f"exec_ext_shortfall_quote{{{labels}}}"] == pytest.approx(cost, abs=1e-9)
        maker = sum(r.notional for r in ledger if r.liquidity == "maker")
        assert m["exec_ext_maker_share"] == pytest.approx(maker / sum(r.notional for r in ledger))
        # equity = capital + realized profit (no open trade), from Freqtrade's trades table
        trades = list(Trade.get_trades_proxy())
        realized = sum(t.close_profit_abs for t in trades)
        assert m["exec_ext_open_trades"] == 0
        assert m["exec_ext_equity_quote"] == pytest.approx(1000.0 + realized, abs=1e-6)
        # the kill switch gauge is the stored level
        state, _ = KillSwitchStore(lb.bot.strategy.exec_ext_ops.store.engine).load("STR-001")
        assert m["exec_ext_kill_switch_level"] == int(state.level) == 0
        # request weight counted for the spot family; the loop time is the bot's clock
        assert m['exec_ext_request_weight_total{family="spot"}'] > 0
        assert m["exec_ext_last_loop_timestamp_seconds"] == pytest.approx(
            lb.clock.ms() / 1000, abs=120)
        sample = "\n".join(
            line for line in text.splitlines()
            if re.match(r"exec_ext_(fills_total|slippage_bps_count|shortfall_quote|maker_share|"
                        r"equity_quote|kill_switch_level|request_weight_total|open_trades)",
                        line))
        with capsys.disabled():
            print(f"\n/metrics sample (dry-run bot, {len(ledger)} fills in its database):\n"
                  + sample)
    finally:
        lb.stop()
