"""``freqtrade lookahead-analysis`` and ``recursive-analysis`` run with the mixin and give
the same verdicts as the same logic on a plain IStrategy (the real CLI, in a subprocess)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mixin_helpers import DATADIR, REPO, STRATEGIES, base_config

PLAIN = '''
import importlib.util
from freqtrade.strategy import IStrategy
from freqtrade_exec_ext.contract import load_contract
from freqtrade_exec_ext.strategy.settings import strategy_settings

_spec = importlib.util.spec_from_file_location("_str001_source", {source!r})
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
_S = _mod.STR001
_SETTINGS = strategy_settings(load_contract({contract!r}))


class STR001Plain(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = _S.timeframe
    startup_candle_count = _S.startup_candle_count
    process_only_new_candles = _S.process_only_new_candles
    use_exit_signal = _S.use_exit_signal
    minimal_roi = dict(_S.minimal_roi)
    buy_rsi = _S.buy_rsi
    populate_indicators = _S.populate_indicators
    populate_entry_trend = _S.populate_entry_trend
    populate_exit_trend = _S.populate_exit_trend
    locals().update({{k: (dict(v) if isinstance(v, dict) else v) for k, v in _SETTINGS.items()}})
'''


def _setup(localex, tmp: Path) -> Path:
    strategies = tmp / "strategies"
    strategies.mkdir()
    (strategies / "STR001.py").write_text((STRATEGIES / "STR001.py").read_text())
    contract = REPO / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
    (strategies / "STR001Plain.py").write_text(
        PLAIN.format(source=str(strategies / "STR001.py"), contract=str(contract))
    )
    cfg = base_config(localex.base_url, tmp / "user_data", strategy_path=str(strategies),
                      exec_ext={"risk_contract": str(contract)})
    cfg.pop("timeframe")
    (tmp / "config.json").write_text(json.dumps(cfg))
    return strategies


def _freqtrade(tmp: Path, *args: str) -> str:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "freqtrade"), *args, "-c", str(tmp / "config.json"),
         "--datadir", str(DATADIR), "--userdir", str(tmp / "user_data"), "--no-color"],
        check=False, cwd=tmp, capture_output=True, text=True, timeout=900,
        env={"COLUMNS": "200", "PATH": str(Path(sys.executable).parent)},
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0 and "Traceback" not in text, text[-3000:]
    return text


def _rows(text: str, first_cell: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if len(cells) > 2 and cells[0].startswith(first_cell):
            rows[cells[1] if first_cell.endswith(".py") else cells[0]] = cells
    return rows


@pytest.mark.slow
def test_lookahead_analysis_verdict_matches_a_plain_strategy(localex, tmp_path):
    _setup(localex, tmp_path)
    text = _freqtrade(tmp_path, "lookahead-analysis", "--strategy-list", "STR001",
                      "STR001Plain", "--timerange", "20251001-20251101", "--timeframe", "5m")
    rows = {**_rows(text, "STR001.py"), **_rows(text, "STR001Plain.py")}
    print("\n" + "\n".join(" | ".join(r) for r in rows.values()))
    assert set(rows) == {"STR001", "STR001Plain"}, text[-2000:]
    # has_bias, total_signals, biased entries, biased exits, biased indicators
    assert rows["STR001"][2:] == rows["STR001Plain"][2:]
    assert rows["STR001"][2] == "No" and int(rows["STR001"][3]) > 0


@pytest.mark.slow
def test_recursive_analysis_matches_a_plain_strategy(localex, tmp_path):
    _setup(localex, tmp_path)
    tables = {}
    for name in ("STR001", "STR001Plain"):
        text = _freqtrade(tmp_path, "recursive-analysis", "--strategy", name,
                          "--timerange", "20251001-20251101")
        tables[name] = {k: v for k, v in _rows(text, "").items()
                        if k in ("ema_slow", "rsi", "bb_lower", "bb_middle")}
        print(f"\n{name}: {tables[name]}")
    assert tables["STR001"] and tables["STR001"] == tables["STR001Plain"]
