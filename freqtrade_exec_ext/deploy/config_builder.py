"""config.json of a deployment, derived from the risk contract by pure functions.

No number of the contract is typed here: :func:`risk_settings` takes every risk-bearing
key from :mod:`freqtrade_exec_ext.strategy.settings` (the one mapping the mixin uses
too), and ``freqtrade-exec validate`` recomputes it and compares it with the file.

Secrets are never written: exchange key/secret, API password, JWT secret, bot tokens and
webhook URLs come from environment variables (``FREQTRADE__EXCHANGE__KEY`` ...), which
Freqtrade merges over the file.  Sections that Freqtrade's schema requires a value for
(``telegram.token``/``chat_id``, ``api_server.username``/``password``) carry an empty
placeholder; the alert channels are off until their environment variables switch them on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.deploy.stamp import stamp, stamp_problem
from freqtrade_exec_ext.deploy.testnets import find_testnet, known_testnets
from freqtrade_exec_ext.errors import InputRefused
from freqtrade_exec_ext.strategy import settings as ft_settings

SCHEMA_URL = "https://schema.freqtrade.io/schema.json"
EXEC_EXT_PAIRLISTS: tuple[dict[str, Any], ...] = ({"method": "ExecutionCostFilter"},)
VOLUME_PAIRLIST: dict[str, Any] = {
    "method": "VolumePairList",
    "number_assets": 20,
    "sort_key": "quoteVolume",
    "min_value": 0,
    "refresh_period": 1800,
}
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 10
_PAIR = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{2,10}(?::[A-Z0-9]{2,10})?$")


class BuildError(InputRefused, ValueError):
    """Bad deployment input; ``lines`` holds one clear line per problem."""

    def __init__(self, lines: str | Sequence[str]) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


@dataclass(frozen=True)
class DeployOptions:
    """What the user chose on the command line (all validated by :func:`check_options`)."""

    stage: st.Stage
    exchange: str  # exchange id, or "local" for the project's local exchange
    db: st.DbKind = "sqlite"
    pairs: tuple[str, ...] = ()
    api_port: int = st.API_PORT_DEFAULT
    local_url: str = st.LOCAL_EXCHANGE_URL_DEFAULT

    @property
    def is_local(self) -> bool:
        return self.exchange == st.LOCAL_EXCHANGE


def parse_pairs(text: str | None, contract: RiskContract) -> tuple[str, ...]:
    """``"BTC/USDT,ETH/USDT"`` -> checked, de-duplicated pairs in the given order."""
    if not text:
        return ()
    out: list[str] = []
    problems: list[str] = []
    quote = contract.market.stake_currency
    for raw in text.split(","):
        pair = raw.strip().upper()
        if not pair:
            continue
        if not _PAIR.match(pair):
            problems.append(f"--pairs: {raw.strip()!r} is not a pair like BTC/{quote}")
            continue
        base_quote, _, settle = pair.partition(":")
        if base_quote.split("/")[1] != quote:
            problems.append(
                f"--pairs: {pair} is not quoted in the contract's stake currency {quote} "
                "(market.stake_currency)"
            )
        if contract.is_futures and settle != quote:
            problems.append(f"--pairs: {pair}: futures pairs look like BTC/{quote}:{quote}")
        if not contract.is_futures and settle:
            problems.append(f"--pairs: {pair}: spot pairs have no ':SETTLE' part")
        if pair not in out:
            out.append(pair)
    if problems:
        raise BuildError(problems)
    return tuple(out)


def check_options(contract: RiskContract, opts: DeployOptions) -> None:
    """Refuse combinations that could trade in the wrong place."""
    problems: list[str] = []
    if opts.stage not in st.STAGES:
        problems.append(f"--stage: must be one of {', '.join(st.STAGES)}, was {opts.stage!r}")
    if opts.db not in st.DB_KINDS:
        problems.append(f"--db: must be one of {', '.join(st.DB_KINDS)}, was {opts.db!r}")
    if not 1024 <= opts.api_port <= 65535:
        problems.append(f"--api-port: must be 1024..65535, was {opts.api_port}")
    contract_ex = contract.market.exchange.lower()
    if opts.is_local:
        if opts.stage == "live":
            problems.append(
                "--exchange local: the live stage trades on the real exchange "
                f"({contract_ex}); the local exchange is for testnet and paper only"
            )
        if contract.is_futures:
            problems.append(
                "--exchange local: spot contracts only; the generator does not support a "
                "futures deployment on the local exchange yet"
            )
    elif opts.exchange.lower() != contract_ex:
        problems.append(
            f"--exchange: {opts.exchange!r} differs from the contract's market.exchange "
            f"({contract_ex}); the limits were set for {contract_ex}. Use --exchange "
            f"{contract_ex}, or 'local' for the project's local exchange"
        )
    elif (
        opts.stage == "testnet" and find_testnet(contract_ex, contract.market.trading_mode) is None
    ):
        problems.append(
            f"--stage testnet: {contract_ex} ({contract.market.trading_mode}) has no test "
            f"environment known to freqtrade-exec (known: {', '.join(known_testnets())}). "
            "Run the testnet stage against the project's local exchange instead: "
            "--exchange local (start it with: freqtrade-exec exchange start)"
        )
    if problems:
        raise BuildError(problems)


def risk_settings(
    contract: RiskContract, stage: st.Stage, live_capital: float | None = None
) -> dict[str, Any]:
    """Every config key that carries a contract number; ``validate`` compares these.

    Only paper is a dry-run: testnet places real orders on a test environment (or on the
    project's local exchange, which matches them), live on the real exchange.
    """
    out: dict[str, Any] = {**ft_settings.wallet_settings(contract)}
    out |= ft_settings.strategy_settings(contract)
    out["dry_run"] = stage == "paper"
    if stage == "live":
        if live_capital is None:
            raise BuildError("live: no approved capital (freqtrade-exec approve ... --capital)")
        out["available_capital"] = live_capital
    elif stage == "testnet":
        # a test account holds play money in any amount: trade the contract's capital only
        out["available_capital"] = contract.capital.initial_capital
    return out


def _pricing(contract: RiskContract) -> tuple[dict[str, Any], dict[str, Any]]:
    # market orders must price on the "other" side (Freqtrade rejects anything else);
    # limit orders rest on our own side of the book (maker), read from the top of the book
    entry_side = "other" if contract.orders.entry_type == "market" else "same"
    exit_side = "other" if contract.orders.exit_type == "market" else "same"
    entry = {
        "price_side": entry_side,
        "use_order_book": True,
        "order_book_top": 1,
        "price_last_balance": 0.0,
        "check_depth_of_market": {"enabled": False, "bids_to_ask_delta": 1},
    }
    exit_ = {"price_side": exit_side, "use_order_book": True, "order_book_top": 1}
    return entry, exit_


def _exchange_section(contract: RiskContract, opts: DeployOptions) -> dict[str, Any]:
    pairs = list(opts.pairs)
    if opts.is_local:
        from freqtrade_exec_ext.localex import freqtrade_exchange_config

        section = freqtrade_exchange_config(opts.local_url, name="binance")
        # testnet trades live on it: the throwaway key pair comes from the environment
        # (FREQTRADE__EXCHANGE__KEY/SECRET), like any exchange key
        for secret in ("key", "secret", "password", "uid"):
            section.pop(secret, None)
    else:
        section = {"name": contract.market.exchange.lower(), "ccxt_config": {}}
        if opts.stage == "testnet":
            testnet = find_testnet(contract.market.exchange, contract.market.trading_mode)
            if testnet is None:  # check_options refuses this earlier
                raise BuildError(f"no testnet for {contract.market.exchange}")
            section |= testnet.exchange_fragment()
    section["pair_whitelist"] = pairs
    section["pair_blacklist"] = []
    return section


def _pairlists(opts: DeployOptions) -> list[dict[str, Any]]:
    if opts.pairs:
        return [{"method": "StaticPairList"}]
    return [dict(VOLUME_PAIRLIST)]


def _telegram() -> dict[str, Any]:
    return {
        "enabled": False,
        "token": "",  # FREQTRADE__TELEGRAM__TOKEN
        "chat_id": "",  # FREQTRADE__TELEGRAM__CHAT_ID
        "allow_custom_messages": True,  # the package's strategy messages (dp.send_msg)
        "notification_settings": {
            "entry": "silent",
            "entry_fill": "on",
            "entry_cancel": "on",
            "exit_fill": "on",
            "exit_cancel": "on",
            "protection_trigger": "on",
            "protection_trigger_global": "on",
            "warning": "on",
        },
    }


def webhook_templates(label: str, futures: bool) -> dict[str, Any]:
    """Templates per message type (``str.format`` over Freqtrade's message fields)."""
    t = {
        "startup": f"{label}: {{status}}",
        "status": f"{label}: {{status}}",
        "warning": f"{label} WARNING: {{status}}",
        "exception": f"{label} ERROR: {{status}}",
        "entry_fill": f"{label}: entry filled {{pair}} {{direction}} {{amount}} at {{open_rate}}"
        " ({enter_tag})",
        "entry_cancel": f"{label}: entry cancelled {{pair}}: {{reason}}",
        "exit_fill": f"{label}: exit filled {{pair}} at {{close_rate}}, profit "
        "{profit_ratio:.2%} ({exit_reason})",
        "exit_cancel": f"{label}: exit cancelled {{pair}}: {{reason}}",
        "protection_trigger": f"{label}: {{pair}} locked until {{lock_end_time}}: {{reason}}",
        "protection_trigger_global": f"{label}: all pairs locked until {{lock_end_time}}: "
        "{reason}",
        # the package's own alerts (slippage over budget, limits hit...): dp.send_msg
        "strategy_msg": f"{label}: {{msg}}",
    }
    if futures:
        t["liquidation_warning"] = (
            f"{label}: {{pair}} at {{remaining_ratio:.0%}} of its margin before liquidation"
        )
    return {kind: {"text": text} for kind, text in t.items()}


def _webhook(label: str, futures: bool) -> dict[str, Any]:
    return {
        "enabled": False,  # FREQTRADE__WEBHOOK__ENABLED=true and FREQTRADE__WEBHOOK__URL
        "format": "json",
        "retries": 3,
        "retry_delay": 0.5,
        "timeout": 10,
        "allow_custom_messages": True,
        **webhook_templates(label, futures),
    }


def _discord(label: str) -> dict[str, Any]:
    return {
        "enabled": False,  # FREQTRADE__DISCORD__ENABLED=true and FREQTRADE__DISCORD__WEBHOOK_URL
        "allow_custom_messages": True,
        "strategy_msg": [{"Strategy message": "{msg}"}, {"Bot": label}],
        "protection_trigger": [
            {"Pair": "{pair}"},
            {"Reason": "{reason}"},
            {"Locked until": "{lock_end_time}"},
        ],
        "protection_trigger_global": [
            {"Reason": "{reason}"},
            {"Locked until": "{lock_end_time}"},
        ],
    }


def _api_server(port: int) -> dict[str, Any]:
    return {
        "enabled": True,
        "listen_ip_address": "127.0.0.1",
        "listen_port": port,
        "verbosity": "error",
        "enable_openapi": False,
        "CORS_origins": [],
        # FREQTRADE__API_SERVER__USERNAME / __PASSWORD / __JWT_SECRET_KEY
        "username": "",
        "password": "",
    }


def _log_config(strategy_id: str, stage: st.Stage) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "basic": {"format": "%(message)s"},
            "standard": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "freqtrade.loggers.ft_rich_handler.FtRichHandler",
                "formatter": "basic",
            },
            "file": {
                "class": "logging.handlers.RotatingFileHandler",
                "formatter": "standard",
                "filename": st.log_relpath(strategy_id, stage),
                "maxBytes": LOG_MAX_BYTES,
                "backupCount": LOG_BACKUPS,
                "encoding": "utf-8",
            },
        },
        "root": {"handlers": ["console", "file"], "level": "INFO"},
    }


def build_config(
    contract: RiskContract, opts: DeployOptions, *, live_capital: float | None = None
) -> dict[str, Any]:
    """The complete config.json of a stage (a plain JSON-able dict, no secrets)."""
    check_options(contract, opts)
    sid = contract.strategy_id
    label = st.bot_name(sid, opts.stage)
    entry_pricing, exit_pricing = _pricing(contract)
    risk = risk_settings(contract, opts.stage, live_capital)
    config: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "bot_name": label,
        "strategy": st.strategy_class(sid),
        "initial_state": "running",
        "force_entry_enable": False,
        "cancel_open_orders_on_exit": False,
        **risk,
        "tradable_balance_ratio": 0.99,
        "entry_pricing": entry_pricing,
        "exit_pricing": exit_pricing,
        "exchange": _exchange_section(contract, opts),
        "pairlists": _pairlists(opts),
        "exec_ext": {
            **stamp(contract, opts.stage),
            "risk_contract": st.contract_posix(sid),
            "pairlists": [dict(p) for p in EXEC_EXT_PAIRLISTS],
            "budget": {"db_url": st.budget_db_url(opts.db)},
        },
        "db_url": st.db_url(sid, opts.stage, opts.db),
        "api_server": _api_server(opts.api_port),
        "telegram": _telegram(),
        "webhook": _webhook(label, contract.is_futures),
        "discord": _discord(label),
        "log_config": _log_config(sid, opts.stage),
        "internals": {"process_throttle_secs": 5, "heartbeat_interval": 60},
        "dataformat_ohlcv": "feather",
        "dataformat_trades": "feather",
    }
    return config


def risk_mismatches(
    config: dict[str, Any],
    contract: RiskContract,
    stage: st.Stage,
    live_capital: float | None,
) -> list[str]:
    """One line per config key whose value differs from what the contract gives."""
    expected = risk_settings(contract, stage, live_capital)
    out = []
    for key, want in expected.items():
        if key not in config:
            out.append(f"{key}: missing, the contract gives {_short(want)}")
        elif config[key] != want:
            out.append(f"{key}: is {_short(config[key])}, the contract gives {_short(want)}")
    ext: dict[str, Any] = _dict(config.get("exec_ext"))
    if "contract_sha256" not in ext:
        out.append("exec_ext.contract_sha256: missing (the contract stamp): run deploy again")
    problem = stamp_problem(config, contract)
    if problem:
        out.append(f"exec_ext.contract_sha256: {problem}")
    if ext.get("risk_contract") != st.contract_posix(contract.strategy_id):
        out.append(
            f"exec_ext.risk_contract: is {ext.get('risk_contract')!r}, expected "
            f"{st.contract_posix(contract.strategy_id)!r}"
        )
    return out


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def risk_summary(contract: RiskContract, config: dict[str, Any]) -> str:
    """Evidence text for the checklist: the embedded numbers, read from the config."""
    ot = config.get("order_types", {})
    tif = config.get("order_time_in_force", {})
    uto = config.get("unfilledtimeout", {})
    return (
        f"stoploss {config.get('stoploss')}, max_open_trades {config.get('max_open_trades')}, "
        f"orders {ot.get('entry')}/{ot.get('exit')} {tif.get('entry')}, unfilled timeouts "
        f"{uto.get('entry')}/{uto.get('exit')} {uto.get('unit')}; equal to "
        f"risk-assessment.yaml (sha256 {contract.fingerprint()[:12]})"
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
