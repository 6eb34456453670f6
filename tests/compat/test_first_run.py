"""First run: the venue is not started.  Freqtrade alone says only "Could not load markets";
``freqtrade-exec ft`` names the URL and the command that starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import free_port

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREQTRADE__")}
    env["COLUMNS"] = "1000"
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_markets_unreachable_names_the_venue_and_how_to_start_it(
    tmp_path: Path, repo_root: Path
) -> None:
    port = free_port()  # nothing listens here
    shipped = json.loads((repo_root / "user_data/config.json").read_text())
    text = json.dumps(shipped).replace("127.0.0.1:8765", f"127.0.0.1:{port}")
    (tmp_path / "config.json").write_text(text)
    (tmp_path / "user_data").mkdir()
    args = [
        "backtesting", "-c", "config.json", "--strategy", "STR001",
        "--strategy-path", str(repo_root / "user_data/strategies"),
        "--datadir", str(repo_root / "user_data/data/binance"), "--timerange", "20251001-20251002",
    ]  # fmt: skip
    ours = _run([str(BIN / "freqtrade-exec"), "ft", *args], tmp_path)
    out = ours.stdout + ours.stderr
    assert ours.returncode == 2, out[-3000:]
    assert (
        f"the local exchange at http://127.0.0.1:{port} is not running (the config's "
        "exchange.ccxt_config.urls point there), so Freqtrade cannot load markets: start it "
        f"with 'freqtrade-exec exchange start --port {port} --datadir user_data/data/binance' "
        "and run this again"
    ) in out
    assert "Traceback" not in out
    # what plain freqtrade says: it builds the exchange before it loads any strategy or
    # plugin, so nothing of ours runs before this
    plain = _run([str(BIN / "freqtrade"), *args], tmp_path)
    assert "Could not load markets" in plain.stdout + plain.stderr
