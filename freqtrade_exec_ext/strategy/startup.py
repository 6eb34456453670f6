"""Strategy start-up: find the contract, and bind it against every settings source.

Runs inside ``ExecutionMixin.__init__`` (and once more when Freqtrade has applied every
setting, see :func:`settings_in_effect`).  Every problem found is reported at once, one
line each, naming where the value came from, and the command stops (Freqtrade prints an
``OperationalException`` and exits 2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.contract import ContractError, RiskContract
from freqtrade_exec_ext.errors import InputRefused
from freqtrade_exec_ext.strategy import binding

logger = logging.getLogger(__name__)

# Freqtrade run modes (their string values), without importing Freqtrade here
LIVE_MODES = frozenset({"live", "dry_run"})
SIM_MODES = frozenset({"backtest", "hyperopt", "webserver"})
# utility modes (lookahead-analysis, recursive-analysis, plotting, ...): no order goes out
ANALYSIS_MODES = frozenset({"util_no_exchange", "util_exchange", "plot", "other"})
FLAG_ALIASES = {"--dry-run-wallet": ("--dry-run-wallet", "--starting-balance")}
# owned settings Freqtrade's config schema fills in when nobody set them
SCHEMA_DEFAULTS = {"dry_run_wallet": 1000}


class StartupError(InputRefused):
    """The strategy must not start; ``str()`` is the whole message (one line per problem)."""


def runmode_of(config: Mapping[str, Any]) -> str:
    mode = config.get("runmode")
    return str(getattr(mode, "value", mode or ""))


def load_strategy_contract(
    config: Mapping[str, Any], strategy_id: str
) -> tuple[RiskContract, Path]:
    """Find and load the strategy's contract, or raise StartupError (one line)."""
    if not strategy_id:
        raise StartupError(
            'ExecutionMixin: the strategy must set strategy_id (e.g. strategy_id = "STR-001")'
        )
    from freqtrade_exec_ext.compat.contract import contract_for

    try:
        return contract_for(config, strategy_id)
    except ContractError as exc:
        raise StartupError(exc.one_line()) from None


def _flag_given(flag: str, argv: Sequence[str]) -> bool:
    names = FLAG_ALIASES.get(flag, (flag,))
    return any(a == n or a.startswith(n + "=") for a in argv for n in names)


def _env_var(key: str, env: Mapping[str, str]) -> str | None:
    exact = f"FREQTRADE__{key.upper()}"
    names = sorted(v for v in env if v.upper() == exact or v.upper().startswith(exact + "__"))
    return names[0] if names else None


def source_namer(
    config: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    argv: Sequence[str],
    read_file: Callable[[str], Mapping[str, Any]],
) -> Callable[[str], str]:
    """``name(key)``: where the config's value of ``key`` came from, in words."""
    original = config.get("original_config")
    files = [str(f) for f in config.get("config_files") or []]

    def holders(key: str) -> list[str]:
        out = []
        for f in files:
            try:
                holds = key in read_file(f)
            except Exception:  # noqa: BLE001 - an unreadable file is not the source
                holds = False
            if holds:
                out.append(f)
        return out

    def name(key: str) -> str:
        owned = binding.OWNED_BY_KEY.get(key)
        flag = owned.flag if owned else None
        if isinstance(original, Mapping) and (
            key not in original or not binding.same(key, original[key], config.get(key))
        ):
            # set after the config files and environment were read: the command line, or
            # the REST API's backtest request (webserver)
            if flag and _flag_given(flag, argv):
                return f"command-line flag {flag}"
            if "webserver" in argv:
                return "the REST API backtest request"
            return f"command-line flag {flag}" if flag else "the command line"
        var = _env_var(key, env)
        if var:
            return f"environment variable {var}"
        found = holders(key)
        if found:
            return f"config file {found[0]}"
        return "the configuration"

    return name


def freqtrade_defaults(
    config: Mapping[str, Any], *, env: Mapping[str, str], argv: Sequence[str]
) -> set[str]:
    """Owned keys whose config value is Freqtrade's schema default, not anyone's setting:
    the contract's value replaces them silently."""
    original = config.get("original_config")
    if not isinstance(original, Mapping):
        return set()
    out = set()
    for key, default in SCHEMA_DEFAULTS.items():
        owned = binding.OWNED_BY_KEY[key]
        if (
            key in config
            and key not in original
            and not (owned.flag and _flag_given(owned.flag, argv))
            and _env_var(key, env) is None
            and binding.same(key, config[key], default)
        ):
            out.add(key)
    return out


def config_conflicts(
    config: Mapping[str, Any],
    want: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    argv: Sequence[str],
    read_file: Callable[[str], Mapping[str, Any]],
) -> list[binding.Conflict]:
    mode = runmode_of(config)
    namer = source_namer(config, env=env, argv=argv, read_file=read_file)
    defaults = freqtrade_defaults(config, env=env, argv=argv)
    found = binding.conflicts(
        {k: v for k, v in config.items() if k not in defaults},
        want,
        namer,
        simulated=mode in SIM_MODES or mode in ANALYSIS_MODES,
        analysis=mode in ANALYSIS_MODES,
    )
    if mode == "hyperopt":
        spaces = [str(s) for s in config.get("spaces") or ["default"]]
        found += binding.space_conflicts(spaces, want)
    return found


def refusal(
    contract: RiskContract, path: Path | str, problems: Sequence[binding.Conflict], config: Any
) -> str:
    """The message that stops the command: a header, then one line per problem."""
    lines = [p.line() for p in problems]
    hint = "remove each from its source, or change the contract"
    spaces = [p for p in problems if p.source.startswith("hyperopt --spaces")]
    if spaces:
        asked = [str(s) for s in config.get("spaces") or ["default"]]
        keep = " ".join(binding.allowed_spaces(asked))
        hint = (
            "to explore stop-loss, trailing or max_open_trades, edit them in the contract and "
            f"run again; search the rest with --spaces {keep}"
        )
    head = (
        f"ExecutionMixin: {len(lines)} "
        f"{'settings contradict' if len(lines) > 1 else 'setting contradicts'} the risk "
        f"contract of {contract.strategy_id} ({path}); {hint}:"
    )
    shown = lines[:50]
    if len(lines) > 50:
        shown.append(f"... and {len(lines) - 50} more")
    return "\n".join([head, *(f"  - {line}" for line in shown)])


def in_effect_problems(have: Mapping[str, Any], want: Mapping[str, Any], mode: str) -> list[str]:
    """Owned settings whose value in effect (after Freqtrade applied every source) is not
    the contract's: a source this module does not know about."""
    out = []
    for key, value in want.items():
        if mode in ANALYSIS_MODES and binding.analysis_forced(key, have.get(key)):
            continue
        if key not in have:
            continue
        if key == "margin_mode" and not have[key] and not value:
            continue
        simulated = mode in SIM_MODES or mode in ANALYSIS_MODES  # Freqtrade's Backtesting
        if not binding.same(key, have[key], value, simulated=simulated):
            out.append(f"{key}={have[key]!r} is in effect, the contract sets {value!r}")
    return out


# --------------------------------------------------------------------- the strategy itself
def apply_contract_settings(
    strategy: Any,
    config: dict[str, Any],
    want: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    argv: Sequence[str],
) -> None:
    """The contract's values become the strategy's (class attributes are replaced, with a
    warning naming them); config keys were checked before."""
    cls = type(strategy)
    contract = strategy.risk_contract
    for key, value in want.items():
        if key in binding.CONFIG_ONLY:
            continue
        declared = getattr(cls, key, None)
        if declared_below(cls, key, stop_at=strategy.exec_ext_base) and not binding.same(
            key, declared, value
        ):
            logger.warning(
                "%s: %s=%r in the strategy class is replaced by the risk contract (%r)",
                cls.__name__,
                key,
                declared,
                value,
            )
        setattr(strategy, key, dict(value) if isinstance(value, dict) else value)
    if not contract.stop_loss.trailing.enabled or contract.is_futures:
        strategy.trailing_stop_positive = None
        strategy.trailing_stop_positive_offset = 0.0
        strategy.trailing_only_offset_is_reached = False
    mode = runmode_of(config)
    if mode in ANALYSIS_MODES:
        return  # lookahead/recursive analysis set their own wallet; no order goes out
    if mode in ("backtest", "hyperopt") and not config.get("enable_protections"):
        # the contract's limits (drawdown, daily loss, stop-loss streak, slippage) act in
        # every backtest, as they do live; Freqtrade applies protections only with this
        config["enable_protections"] = True
        logger.info(
            "exec_ext: the risk contract's limits act in this %s as protections "
            "(--enable-protections implied)",
            mode,
        )
    for key in freqtrade_defaults(config, env=env, argv=argv):
        config[key] = want[key]  # Freqtrade's default, nobody's setting
    config.setdefault("dry_run_wallet", want["dry_run_wallet"])
    config.setdefault("stake_currency", want["stake_currency"])


def declared_below(cls: type, name: str, *, stop_at: type) -> bool:
    """Whether a class below ``stop_at`` (the mixin) defines ``name`` itself."""
    for klass in cls.__mro__:
        if klass is stop_at:
            return False
        if name in klass.__dict__:
            return True
    return False


def settings_in_effect_problem(strategy: Any, want: Mapping[str, Any]) -> str | None:
    """After Freqtrade applied every settings source: what is in effect must be the
    contract's (a source the start-up check could not see)."""
    have = {k: getattr(strategy, k, None) for k in want if k not in binding.CONFIG_ONLY}
    have |= {k: strategy.config[k] for k in binding.CONFIG_ONLY if k in strategy.config}
    problems = in_effect_problems(have, want, runmode_of(strategy.config))
    if problems:
        return (
            "ExecutionMixin: the settings in effect contradict the risk contract of "
            f"{strategy.risk_contract.strategy_id}: " + "; ".join(problems)
        )
    return None


def ladder_problem(
    contract: RiskContract, timeframe_s: float, use_exit_signal: bool, timeframe: str
) -> str | None:
    """Why the contract's reprice ladder cannot happen on schedule in live trading."""
    from freqtrade_exec_ext.execution import ladder

    o = contract.orders
    if o.max_reprices <= 0:
        return None
    problem = ladder.entry_schedule_problem(o.entry_timeout_s, o.max_reprices, timeframe_s)
    if problem:
        return (
            f"orders.entry_timeout_s {o.entry_timeout_s} with max_reprices {o.max_reprices} "
            f"on {timeframe} candles: {problem}"
        )
    if not use_exit_signal:
        return (
            f"orders.max_reprices {o.max_reprices}: a repriced exit is placed again through "
            "custom_exit, which Freqtrade consults only with use_exit_signal = True; set it "
            "in the strategy, or max_reprices: 0"
        )
    return None
