"""``freqtrade hyperopt`` runs STR001 with the mixin, pickled into 2 worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mixin_helpers import DATADIR, REPO, STRATEGIES, base_config


@pytest.mark.slow
def test_hyperopt_runs_with_the_mixin_and_writes_no_ledger(localex, tmp_path: Path):
    user_dir = tmp_path / "user_data"
    cfg = base_config(localex.base_url, user_dir)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    freqtrade = Path(sys.executable).parent / "freqtrade"
    cmd = [
        str(freqtrade), "hyperopt", "-c", str(path), "--strategy", "STR001",
        "--strategy-path", str(STRATEGIES), "--userdir", str(user_dir),
        "--datadir", str(DATADIR), "--timerange", "20251001-20251020",
        "--hyperopt-loss", "SharpeHyperOptLoss", "--spaces", "roi",
        "-e", "4", "-j", "2", "--disable-param-export", "--no-color",
    ]
    proc = subprocess.run(
        cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=240
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "PicklingError" not in out, out[-3000:]
    # the mixin loaded its contract and stated the backtest model
    flat = " ".join(out.split())  # Freqtrade's console log wraps long lines
    assert "freqtrade_exec_ext.strategy.mixin - INFO - exec_ext: STR001" in flat, out[-3000:]
    assert "4/4" in out or "Best result" in out or "No good result found" in out, out[-3000:]
    # hyperopt writes no execution ledger
    assert not list(user_dir.rglob("*-exec-ledger.jsonl"))
    assert not (STRATEGIES / "STR001.json").exists()


def _hyperopt(tmp_path: Path, localex, spaces: list[str], *extra: str):
    import shutil

    strategies = tmp_path / "strategies"
    strategies.mkdir(exist_ok=True)
    shutil.copy(STRATEGIES / "STR001.py", strategies / "STR001.py")
    user_dir = tmp_path / "user_data"
    cfg = base_config(localex.base_url, user_dir, strategy_path=str(strategies))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    freqtrade = Path(sys.executable).parent / "freqtrade"
    cmd = [
        str(freqtrade), "hyperopt", "-c", str(path), "--strategy", "STR001",
        "--strategy-path", str(strategies), "--userdir", str(user_dir),
        "--datadir", str(DATADIR), "--timerange", "20251001-20251020",
        "--hyperopt-loss", "SharpeHyperOptLoss", "--spaces", *spaces, "--no-color", *extra,
    ]
    proc = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    return proc, strategies, path


@pytest.mark.slow
def test_hyperopt_stoploss_space_is_refused_before_the_first_epoch(localex, tmp_path: Path):
    proc, _, _ = _hyperopt(tmp_path, localex, ["stoploss"], "-e", "4", "-j", "1")
    out = " ".join((proc.stdout + proc.stderr).split())  # Freqtrade's log wraps lines
    assert proc.returncode == 2, out[-2000:]
    assert "space 'stoploss' would search settings the contract owns" in out
    assert "search the rest with --spaces roi" in out
    assert "Epochs" not in out and "1/4" not in out  # no epoch ran


@pytest.mark.slow
def test_hyperopt_roi_buy_then_backtest_keeps_the_contracts_stop(localex, tmp_path: Path):
    from mixin_helpers import run_backtest

    proc, strategies, path = _hyperopt(tmp_path, localex, ["roi", "buy"], "-e", "4", "-j", "2")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in out, out[-3000:]
    params = json.loads((strategies / "STR001.json").read_text())["params"]
    assert params["stoploss"] == {"stoploss": -0.05}  # hyperopt wrote the contract's value
    assert "buy" in params and "roi" in params
    cfg = json.loads(path.read_text())
    results, _ = run_backtest(cfg, tmp_path, timerange="20251001-20251201")
    trades = results["trades"]
    assert trades and results["stoploss"] == -0.05
    for t in trades:
        assert t["initial_stop_loss_ratio"] == -0.05
        assert t["stop_loss_abs"] == pytest.approx(t["open_rate"] * 0.95, rel=2e-4)
