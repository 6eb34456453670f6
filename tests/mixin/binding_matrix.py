"""Every settings source x every Freqtrade command: in effect, or refused with one line.

Each cell builds the configuration exactly as the ``freqtrade`` command does (its argument
parser, ``Configuration`` with the command's run mode, the analysis commands' own
overrides), with the source in place (a config file, an ``add_config_files`` file, an
environment variable, a command-line flag, the REST API's backtest request, a strategy
class attribute, the hyperopt parameter file, hyperopt's spaces), then loads the strategy
through Freqtrade's resolver and runs the hook Freqtrade calls once every setting is
applied (``ft_bot_start``).  ``python tests/mixin/binding_matrix.py`` prints the table.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
COMMANDS = ("trade", "backtesting", "hyperopt", "lookahead-analysis", "recursive-analysis")
RUNMODES = {
    "trade": "dry_run",
    "backtesting": "backtest",
    "hyperopt": "hyperopt",
    "lookahead-analysis": "util_no_exchange",
    "recursive-analysis": "util_no_exchange",
}

CLASS_ATTRS = '''
from freqtrade_exec_ext import ExecutionMixin
from pandas import DataFrame


class XMPorted(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    minimal_roi = {"0": 0.05}
    stoploss = -0.30           # a ported strategy's own values
    trailing_stop = True
    trailing_stop_positive = 0.02
    max_open_trades = 9

    def populate_indicators(self, df: DataFrame, metadata: dict) -> DataFrame:
        return df

    def populate_entry_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        df["enter_long"] = 0
        return df

    def populate_exit_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        df["exit_long"] = 0
        return df
'''


@dataclass(frozen=True)
class Source:
    name: str
    key: str  # the setting it moves
    commands: tuple[str, ...] = COMMANDS


SOURCES = (
    Source("config file", "max_open_trades"),
    Source("add_config_files", "stoploss"),
    Source("environment variable", "trailing_stop"),
    Source("command-line flag", "stake_amount", COMMANDS[:4]),
    Source("REST API backtest request", "max_open_trades", ("backtesting",)),
    Source("strategy class attribute", "stoploss"),
    Source("hyperopt parameter file", "stoploss"),
    Source("hyperopt --spaces", "stoploss", ("hyperopt",)),
)


def _base_config(tmp: Path, base_url: str) -> dict[str, Any]:
    from freqtrade_exec_ext.localex import freqtrade_exchange_config

    exchange = freqtrade_exchange_config(base_url)
    exchange["pair_whitelist"] = ["BTC/USDT"]
    return {
        "strategy": "XMPorted",
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "dry_run": True,
        "exchange": exchange,
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same"},
        "exit_pricing": {"price_side": "same"},
        "datadir": str(REPO / "user_data/data/binance"),
        "dataformat_ohlcv": "feather",
        "exec_ext": {"risk_contract": str(CONTRACT)},
        "db_url": "sqlite://",
    }


def _flags(command: str, source: Source) -> list[str]:
    if source.name != "command-line flag":
        return []
    if command == "trade":
        return ["--dry-run-wallet", "5000"]
    return ["--stake-amount", "500"]  # recursive-analysis has no such flag: n/a


def _write_source(tmp: Path, base_url: str, source: Source) -> tuple[Path, dict[str, str]]:
    """The strategy folder, config file and environment for ``source``."""
    strategies = tmp / "strategies"
    strategies.mkdir(parents=True, exist_ok=True)
    code = CLASS_ATTRS
    if source.name != "strategy class attribute":
        code = code.replace("    stoploss = -0.30           # a ported strategy's own values\n"
                            "    trailing_stop = True\n"
                            "    trailing_stop_positive = 0.02\n"
                            "    max_open_trades = 9\n", "")
    (strategies / "XMPorted.py").write_text(code)
    cfg = _base_config(tmp, base_url)
    env: dict[str, str] = {}
    if source.name == "config file":
        cfg["max_open_trades"] = 5
    elif source.name == "add_config_files":
        (tmp / "extra.json").write_text(json.dumps({"stoploss": -0.2}))
        cfg["add_config_files"] = ["extra.json"]
    elif source.name == "environment variable":
        env["FREQTRADE__TRAILING_STOP"] = "true"
    elif source.name == "hyperopt parameter file":
        (strategies / "XMPorted.json").write_text(json.dumps({
            "strategy_name": "XMPorted",
            "params": {"stoploss": {"stoploss": -0.293}, "roi": {"0": 0.1}},
        }))
    (tmp / "config.json").write_text(json.dumps(cfg))
    (tmp / "user_data").mkdir(exist_ok=True)
    return strategies, env


def _argv(tmp: Path, strategies: Path, source: Source, command: str) -> list[str]:
    argv = [command, "-c", str(tmp / "config.json"), "--strategy-path", str(strategies),
            "--userdir", str(tmp / "user_data"), *_flags(command, source)]
    if command != "trade":
        argv += ["--timerange", "20251001-20251101"]
    if command == "hyperopt":
        spaces = ["stoploss"] if source.name == "hyperopt --spaces" else ["roi"]
        argv += ["--hyperopt-loss", "SharpeHyperOptLoss", "--spaces", *spaces]
    return argv


def _freqtrade_config(argv: list[str], command: str, source: Source) -> dict[str, Any]:
    """The configuration as the ``freqtrade`` command builds it."""
    from freqtrade.commands import Arguments
    from freqtrade.configuration import Configuration
    from freqtrade.enums import RunMode
    from freqtrade.misc import deep_merge_dicts

    args = Arguments(argv).get_parsed_arg()
    mode = RunMode(RUNMODES[command])
    if command == "trade":  # Worker
        config = Configuration(args, None).get_config()
    elif command in ("backtesting", "hyperopt"):
        from freqtrade.commands.optimize_commands import setup_optimize_configuration

        config = setup_optimize_configuration(args, mode)
    else:
        from freqtrade.configuration import setup_utils_configuration

        config = setup_utils_configuration(args, mode)
    if command == "lookahead-analysis":
        from freqtrade.optimize.analysis.lookahead_helpers import LookaheadAnalysisSubFunctions

        LookaheadAnalysisSubFunctions.calculate_config_overrides(config)
    elif command == "recursive-analysis":
        from freqtrade.optimize.analysis.recursive_helpers import RecursiveAnalysisSubFunctions

        RecursiveAnalysisSubFunctions.calculate_config_overrides(config)
    if source.name == "REST API backtest request":
        # what api_backtest.api_start_backtest does with the request's settings
        btconfig = deepcopy(config)
        btconfig["runmode"] = RunMode.BACKTEST
        config = deep_merge_dicts({"max_open_trades": 5, "timerange": "20251001-"},
                                  btconfig, allow_null_overrides=False)
    return config


def cell(tmp: Path, base_url: str, source: Source, command: str) -> tuple[str, str]:
    """``("in effect" | "refused" | "n/a", detail)`` for one source and command."""
    from freqtrade.exceptions import OperationalException
    from freqtrade.resolvers import StrategyResolver

    if command not in source.commands:
        return "n/a", ""
    strategies, env = _write_source(tmp, base_url, source)
    argv = _argv(tmp, strategies, source, command)
    old_env, old_argv = dict(os.environ), sys.argv
    os.environ.update(env)
    sys.argv = ["freqtrade", *argv] if source.name != "REST API backtest request" else [
        "freqtrade", "webserver", "-c", str(tmp / "config.json")]
    try:
        config = _freqtrade_config(argv, command, source)
        strategy = StrategyResolver.load_strategy(config)
        strategy.exec_ext_settings_applied()  # what ft_bot_start runs first
    except OperationalException as exc:
        lines = str(exc).splitlines()
        return "refused", (lines[1].strip(" -") if len(lines) > 1 else lines[0])
    finally:
        os.environ.clear()
        os.environ.update(old_env)
        sys.argv = old_argv
    key = "dry_run_wallet" if command == "trade" and source.key == "stake_amount" else source.key
    have = config.get(key) if key in ("stake_amount", "dry_run_wallet") \
        else getattr(strategy, key)
    want = _contract_value(strategy.risk_contract, key)
    if command == "lookahead-analysis" and key in ("max_open_trades", "stake_amount"):
        return "in effect", (f"{key}={have!r}: lookahead-analysis forces it for the analysis, "
                             f"which places no order (contract: {want!r})")
    return "in effect", f"{key}={have!r} (contract: {want!r})"


def _contract_value(c: Any, key: str) -> Any:
    return {
        "stoploss": c.stop_loss.stoploss,
        "trailing_stop": c.stop_loss.trailing.enabled,
        "max_open_trades": c.capital.max_open_trades,
        "stake_amount": "unlimited",
        "dry_run_wallet": c.capital.initial_capital,
    }[key]


def table(tmp: Path, base_url: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for source in SOURCES:
        for command in COMMANDS:
            where = tmp / f"{source.name}-{command}".replace(" ", "_").replace("/", "_")
            shutil.rmtree(where, ignore_errors=True)
            outcome, detail = cell(where, base_url, source, command)
            rows.append((source.name, command, outcome, detail))
    return rows


if __name__ == "__main__":  # pragma: no cover - prints the table for people
    import logging
    import tempfile

    logging.disable(logging.CRITICAL)
    from freqtrade_exec_ext.localex.server import LocalExchange

    with LocalExchange(REPO / "user_data/data/binance") as ex, \
            tempfile.TemporaryDirectory() as d:
        for src, cmd, outcome, detail in table(Path(d), ex.base_url):
            if outcome != "n/a":
                print(f"| {src} | {cmd} | {outcome} | {detail} |")
