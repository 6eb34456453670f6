"""Bots on the local exchange for the operations tests: the e2e harness's LIVE bot with a
scripted crash in its candles, a test contract, and (for /metrics) a dry-run variant with
Freqtrade's REST API on."""

from __future__ import annotations

import json
import secrets
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from e2e import live_harness
from e2e.live_harness import LiveBot

HERE = Path(__file__).resolve().parent
STRATEGIES = HERE / "strategies"


def crash_datadir(dest: Path, steps: list[tuple[datetime, float]]) -> Path:
    """The shipped candles with a scripted crash: from each ``(when, factor)`` on, every
    price of every pair is multiplied by ``factor`` (factors compound: gaps down)."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(live_harness.DATADIR.glob("*.feather")):
        df = pd.read_feather(src)
        for when, factor in steps:
            at = df["date"] >= pd.Timestamp(when)
            for col in ("open", "high", "low", "close"):
                df.loc[at, col] = df.loc[at, col] * factor
        df.to_feather(dest / src.name)
    return dest


def contract_with(dest: Path, **sections: dict[str, Any]) -> Path:
    """STR-001's contract with fields of some sections replaced, e.g.
    ``orders={"max_reprices": 0}`` for a strategy without exit signals."""
    data = yaml.safe_load(live_harness.CONTRACT.read_text())
    for name, fields in sections.items():
        if name == "sizing":
            data[name] = dict(fields)
        else:
            data[name].update(fields)
    path = dest / "STR-001" / "risk-assessment.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def use(mocker: Any, *, datadir: Path | None = None, contract: Path | None = None) -> None:
    if datadir is not None:
        mocker.patch.object(live_harness, "DATADIR", datadir)
    if contract is not None:
        mocker.patch.object(live_harness, "CONTRACT", contract)


class DryRunApiBot(LiveBot):
    """The harness's bot in dry-run, with Freqtrade's REST API on 127.0.0.1:``api_port``."""

    def __init__(self, *args: Any, api_port: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_port = api_port

    def config_file(self) -> Path:
        path = super().config_file()
        cfg = json.loads(path.read_text())
        cfg["dry_run"] = True
        cfg["dry_run_wallet"] = float(self.contract.capital.initial_capital)
        cfg["db_url"] = f"sqlite:///{self.db}"
        cfg["api_server"] = {
            "enabled": True,
            "listen_ip_address": "127.0.0.1",
            "listen_port": self.api_port,
            "username": "ops",
            "password": secrets.token_hex(8),
            "jwt_secret_key": secrets.token_hex(32),
            "verbosity": "error",
        }
        path.write_text(json.dumps(cfg, indent=1))
        return path

    def start_bot(self) -> Any:
        """As the harness's, in Freqtrade's DRY_RUN run mode (no keys)."""
        from freqtrade.configuration import Configuration
        from freqtrade.enums import RunMode
        from freqtrade.freqtradebot import FreqtradeBot
        from freqtrade.persistence.usedb_context import enable_database_use

        enable_database_use()
        cfg = Configuration({"config": [str(self.config_file())]}, RunMode.DRY_RUN).get_config()
        self.bot = FreqtradeBot(cfg)
        self.bot.startup()
        return self.bot


def copy_strategy(name: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(STRATEGIES / f"{name}.py", dest / f"{name}.py")
    return dest
