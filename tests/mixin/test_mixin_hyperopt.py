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
    assert "freqtrade_exec_ext.mixin - INFO - exec_ext: STR001" in out, out[-3000:]
    assert "4/4" in out or "Best result" in out or "No good result found" in out, out[-3000:]
    # hyperopt writes no execution ledger
    assert not list(user_dir.rglob("*-exec-ledger.jsonl"))
    assert not (STRATEGIES / "STR001.json").exists()
