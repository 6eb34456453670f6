"""End to end: a bot trades the local venue, calibrate fits its fills, a backtest of the
same period charges the model, rescore corrects the rest (real Freqtrade throughout)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

START = datetime(2025, 10, 20, tzinfo=UTC)  # not the fixture's day
HOURS = 3
PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")


def _strategy(tmp: Path, model: str | None) -> tuple[Path, dict]:
    from benchmarks import execution_venue as ev

    sdir = tmp / "strategies"
    sdir.mkdir(parents=True, exist_ok=True)
    (sdir / "XCalMixin.py").write_text(ev.Schedule(pairs=PAIRS).strategy_source(
        "XCalMixin", mixin=True, strategy_id="STR-901"))
    slippage = {"backtest_model": model} if model else {}
    contract = ev.write_contract(tmp, ev.contract_data("STR-901", futures=False,
                                                       slippage=slippage))
    return sdir, {"exec_ext": {"risk_contract": str(contract)}}


def test_calibrate_then_backtest_with_the_model(tmp_path, capsys, caplog):
    from benchmarks import execution_venue as ev
    from benchmarks.execution_backtest import run_backtest
    from freqtrade_exec_ext.calibration.model import load
    from freqtrade_exec_ext.cli.main import main
    from freqtrade_exec_ext.store.ledger_files import backtest_ledger_path, read_jsonl

    end = START + timedelta(hours=HOURS)
    sched = ev.Schedule(pairs=PAIRS)
    live = tmp_path / "live"
    sdir, extra = _strategy(live, None)
    run = ev.run_bot(
        live, lambda url: ev.bot_config(live, url, pairs=list(PAIRS), strategy="XCalMixin",
                                        strategy_path=sdir, futures=False, extra=extra),
        start=START, end=end, next_signal=ev.next_after(sched.act_times(START, end)),
    )
    assert len(run.fills) >= 30

    bt = tmp_path / "bt"
    folder = bt / ".crypto" / "knowledge" / "strategies" / "STR-901"
    folder.mkdir(parents=True)
    rc = main(["calibrate", "--db", run.db_url, "--datadir", str(ev.DATADIR), "--out",
               str(folder / "model.json")])
    assert rc == 0, capsys.readouterr().err
    model = load(folder / "model.json")
    entry = model.cell("entry", "buy", "limit")
    sdir_b, extra_b = _strategy(bt, "model.json")  # relative: beside the contract
    cfg = ev.bot_config(bt, "http://127.0.0.1:1", pairs=list(PAIRS), strategy="XCalMixin",
                        strategy_path=sdir_b, futures=False, extra=extra_b)
    caplog.set_level(logging.INFO, logger="freqtrade_exec_ext")
    trades, results = run_backtest(bt, cfg, strategy="XCalMixin", start=START, end=end,
                                      fee=0.001)
    said = [r.getMessage() for r in caplog.records if "exec_ext backtest model" in r.message]
    assert said and str(folder / "model.json") in said[0] and "NOT modelled" in " ".join(said)
    assert not any(" bps adverse slippage charged" in m for m in said)  # not the flat model

    # every signal is an entry decision; the model fills as many as the venue did, give
    # or take one per candle bin (the draws follow the bins' fill probabilities)
    signals = len(sched.entry_signals(START, end))
    dropped = signals - len(trades)
    assert abs(dropped - (entry.attempts - entry.fills)) <= len(entry.bins)
    records = read_jsonl(backtest_ledger_path(results, "XCalMixin"))
    entries = [r for r in records if r.intent == "entry"]
    assert len(entries) == len(trades)
    # fills priced by the model: cost vs the decision = slippage + the backtest's fee
    costs = [r.slippage_decision_bps + 10.0 for r in entries]
    lo = min(b.cost_slices_bps[0] for b in entry.bins if b.cost_slices_bps) - 1.0
    hi = max(b.cost_slices_bps[-1] for b in entry.bins if b.cost_slices_bps) + 1.0
    assert all(lo <= c <= hi for c in costs)

    capsys.readouterr()
    rc = main(["rescore", str(results), "--model", str(folder / "model.json"),
               "--datadir", str(ev.DATADIR)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "TOTAL" in out and "rescore: total profit" in out
    assert list(results.glob("*-XCalMixin-rescored.json"))
    assert list(results.glob("*-XCalMixin-rescored-profit.txt"))
