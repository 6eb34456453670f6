"""The backtest execution ledger on disk: one JSON record per line, beside the results."""

from __future__ import annotations

import json
from pathlib import Path

from freqtrade_exec_ext.execution.ledger import BACKTEST_LEDGER_SUFFIX, FillRecord


def read_jsonl(path: str | Path) -> list[FillRecord]:
    """Read a backtest ledger file."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                out.append(FillRecord.from_dict(json.loads(line)))
    return out


def backtest_ledger_path(results_dir: str | Path, strategy_name: str) -> Path:
    return Path(results_dir) / f"{strategy_name}{BACKTEST_LEDGER_SUFFIX}"
