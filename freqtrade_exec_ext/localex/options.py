"""The options of ``freqtrade-exec exchange serve|start|stop``, declared once (pure).

:data:`OPTIONS` is the one table (flag, value name, default, check, help, group).  From it:

* the CLI's argparse parsers (:func:`add_arguments`),
* validation into :class:`ServeSettings` (:func:`settings_from`; bad input raises
  :class:`OptionError` with one line naming the option and what is allowed),
* the command line ``start`` gives the background ``serve`` (:meth:`ServeSettings.serve_args`),
* the options table of ``docs/local-exchange.md`` (:func:`docs_table`; a test keeps them equal).

No secret is ever an option: API keys come from the environment only.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.errors import InputRefused
from freqtrade_exec_ext.localex.model import (
    DEFAULT_FUTURES_BALANCE,
    DEFAULT_PARTICIPATION,
    DEFAULT_SPOT_BALANCES,
    Fees,
)

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
DEFAULT_DATADIR = "user_data/data/binance"
DEFAULT_PIDFILE = ".localex.pid"
DEFAULT_ADMIN_TOKEN_FILE = ".localex.admin-token"  # noqa: S105 - a file name
MAX_FEE = 0.1  # Freqtrade's own bound for a fee rate
_ASSET = re.compile(r"^[A-Z0-9]{1,20}$")
SERVE, START, STOP = "serve", "start", "stop"


class OptionError(InputRefused, ValueError):
    """One line for the user: the option, the value and what is allowed."""


# ------------------------------------------------------------------ checks (text -> value)


def _number(flag: str, text: str, allowed: str, ok: Callable[[float], bool]) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and ok(value)):
        raise OptionError(f"{flag} {text}: {allowed}")
    return value


def _checked(allowed: str, ok: Callable[[float], bool]) -> Callable[[str, str], float]:
    return lambda flag, text: _number(flag, text, allowed, ok)


def _host(flag: str, text: str) -> str:
    from freqtrade_exec_ext.localex.server import LocalExchangeError, check_loopback

    try:
        check_loopback(text)
    except LocalExchangeError as exc:
        raise OptionError(f"{flag}: {exc}") from None
    return text


def _port(flag: str, text: str) -> int:
    allowed = "must be an integer 0..65535"
    value = _number(flag, text, allowed, lambda v: 0 <= v <= 65535)
    if value != int(value):
        raise OptionError(f"{flag} {text}: {allowed}")
    return int(value)


def _weight(flag: str, text: str) -> int:
    ok: Callable[[float], bool] = lambda v: v >= 1 and v == int(v)  # noqa: E731
    return int(_number(flag, text, "must be a positive integer", ok))


def _start_at(flag: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OptionError(
            f"{flag} {text!r}: not an ISO 8601 date/time (e.g. 2025-10-01T00:00)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _balances(flag: str, values: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for raw in values:
        asset, sep, amount = raw.partition("=")
        asset = asset.strip().upper()
        if not sep or not _ASSET.match(asset):
            raise OptionError(f"{flag} {raw}: expected ASSET=AMOUNT, e.g. {flag} USDT=10000")
        if asset in out:
            raise OptionError(f"{flag} {asset}: given twice")
        value = _float(amount)
        if not (math.isfinite(value) and value >= 0):
            raise OptionError(f"{flag} {raw}: AMOUNT must be a number >= 0")
        out[asset] = value
    return out


def _fee_pair(flag: str, text: str) -> tuple[float, float]:
    rates = [_float(part) for part in text.split(",")]
    if len(rates) != 2 or not all(math.isfinite(r) and 0 <= r <= MAX_FEE for r in rates):
        raise OptionError(
            f"{flag} {text}: expected MAKER,TAKER rates within 0..{MAX_FEE:g}, e.g. 0.001,0.001"
        )
    return rates[0], rates[1]


def _path(flag: str, text: str) -> Path:
    return Path(text)


# ------------------------------------------------------------------ values -> command line


def _word(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return ",".join(_word(v) for v in value)
    return str(value)


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Option:
    """One command-line option: everything that is said about it, once."""

    flag: str
    dest: str  # the :class:`ServeSettings` field (and argparse ``dest``)
    help: str
    default: str  # the default as ``--help`` and the docs show it
    metavar: str | None = None  # None: a switch (True when given)
    check: Callable[[str, Any], Any] | None = None  # (flag, text) -> value or OptionError
    value: Any = None  # the value when the option is not given
    repeat: bool = False  # may be given several times (``ASSET=AMOUNT`` pairs)
    group: str = "venue"
    commands: tuple[str, ...] = (SERVE, START)

    def words(self, value: Any) -> list[str]:
        """The command-line words that give ``value`` (none for an absent value)."""
        if value is None or value is False:
            return []
        if self.metavar is None:
            return [self.flag]
        if self.repeat:
            return [w for k, v in value.items() for w in (self.flag, f"{k}={_word(v)}")]
        return [self.flag, _word(value)]

    def parse(self, raw: Any) -> Any:
        """The value of the option given as ``raw`` (argparse's; None: not given)."""
        if self.check is None:
            return bool(raw)
        return self.value if raw is None else self.check(self.flag, raw)

    @property
    def shown(self) -> str:
        return self.flag if self.metavar is None else f"{self.flag} {self.metavar}"


_FEES = Fees()
#: argparse group -> its description (None: no description)
GROUPS: dict[str, str | None] = {
    "venue": None,
    "trading": (
        "The API key and secret come from the environment only: LOCALEX_API_KEY and "
        "LOCALEX_API_SECRET if set, else FREQTRADE__EXCHANGE__KEY and "
        "FREQTRADE__EXCHANGE__SECRET (what the bot reads). Without them the venue serves "
        "market data only."
    ),
    "rate limits (Binance's by default)": None,
    "background": None,
}
_POSITIVE = "must be a positive number"

OPTIONS: tuple[Option, ...] = (
    Option(
        "--host", "host", "loopback only (127.0.0.1, ::1, localhost); anything else is refused",
        DEFAULT_HOST, "HOST", _host, DEFAULT_HOST,
    ),
    Option(
        "--port", "port", "TCP port (start refuses a port in use, and port 0)",
        str(DEFAULT_PORT), "PORT", _port, DEFAULT_PORT,
    ),
    Option(
        "--datadir", "datadir",
        "Freqtrade datadir with `<BASE>_<QUOTE>-<tf>.feather` (and "
        "`futures/<BASE>_<QUOTE>_<QUOTE>-<tf>-futures.feather`)",
        DEFAULT_DATADIR, "DIR", _path, Path(DEFAULT_DATADIR),
    ),
    Option(
        "--speed", "speed",
        "replay speed: 60 means one data hour per wall minute. Keep 1 for a bot trading live: "
        "Freqtrade times its candles on the wall clock",
        "1", "X", _checked(_POSITIVE, lambda v: v > 0), 1.0,
    ),
    Option(
        "--start-at", "start_at", "data time (UTC, ISO 8601) replayed at server start",
        "data start + 30 days", "TIME", _start_at,
    ),
    Option(
        "--admin-token-file", "admin_token_file",
        "where the admin API token of this run is written (mode 0600, removed at exit); "
        "LOCALEX_ADMIN_TOKEN sets the token, else it is random",
        DEFAULT_ADMIN_TOKEN_FILE, "FILE", _path, Path(DEFAULT_ADMIN_TOKEN_FILE),
    ),
    Option(
        "--balance", "spot_balances",
        "spot balance, repeatable; any --balance replaces the default",
        ",".join(f"{a}={v:g}" for a, v in DEFAULT_SPOT_BALANCES.items()),
        "ASSET=AMOUNT", _balances, repeat=True, group="trading",
    ),
    Option(
        "--futures-balance", "futures_balance", "USDT-M wallet balance",
        f"{DEFAULT_FUTURES_BALANCE:g}", "USDT", _checked("must be a number >= 0", lambda v: v >= 0),
        group="trading",
    ),
    Option(
        "--spot-fees", "spot_fees", f"spot commission rates (0 to {MAX_FEE:g})",
        f"{_FEES.spot_maker:g},{_FEES.spot_taker:g}", "MAKER,TAKER", _fee_pair, group="trading",
    ),
    Option(
        "--futures-fees", "futures_fees", f"USDT-M commission rates (0 to {MAX_FEE:g})",
        f"{_FEES.usdm_maker:g},{_FEES.usdm_taker:g}", "MAKER,TAKER", _fee_pair, group="trading",
    ),
    Option(
        "--participation", "participation",
        "share of the replayed volume a resting order can take",
        f"{DEFAULT_PARTICIPATION:g}", "RATIO",
        _checked("must be within 0..1 (0 excluded)", lambda v: 0 < v <= 1), group="trading",
    ),
    Option(
        "--faults", "faults_file", "fault script, JSON or YAML (see Faults below)", "none", "FILE",
        _path, group="trading",
    ),
    Option(
        "--no-rate-limits", "rate_limits_off", "never answer 429/418", "off",
        group="rate limits (Binance's by default)",
    ),
    Option(
        "--rate-limit-scale", "rate_limit_scale",
        "shrink every limit window X times (30: a one-minute window lasts 2 s)", "1", "X",
        _checked(_POSITIVE, lambda v: v > 0), group="rate limits (Binance's by default)",
    ),
    Option(
        "--weight-limit", "weight_limit",
        "request weight allowed per window, instead of Binance's", "Binance's", "N", _weight,
        group="rate limits (Binance's by default)",
    ),
    Option(
        "--pidfile", "pidfile", "where start records the background exchange (its log: "
        "`<pidfile>.log`)", DEFAULT_PIDFILE, "FILE", _path, Path(DEFAULT_PIDFILE),
        group="background", commands=(START, STOP),
    ),
)  # fmt: skip


def options_for(command: str) -> list[Option]:
    return [o for o in OPTIONS if command in o.commands]


def option_value(values: Mapping[str, Any], dest: str) -> Any:
    """The checked value of one option (e.g. ``pidfile`` for ``start``/``stop``)."""
    return next(o for o in OPTIONS if o.dest == dest).parse(values.get(dest))


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``command`` on an argparse parser, in their groups."""
    groups: dict[str, Any] = {}
    for opt in options_for(command):
        if opt.group not in groups:
            desc = GROUPS[opt.group]
            groups[opt.group] = (
                parser if opt.group == "venue" else parser.add_argument_group(opt.group, desc)
            )
        text = f"{opt.help} (default {opt.default})".replace("%", "%%")
        if opt.metavar is None:
            groups[opt.group].add_argument(opt.flag, dest=opt.dest, action="store_true", help=text)
        else:
            groups[opt.group].add_argument(
                opt.flag,
                dest=opt.dest,
                metavar=opt.metavar,
                action="append" if opt.repeat else "store",
                default=None,
                help=text,
            )


def docs_table() -> str:
    """The options table of ``docs/local-exchange.md`` (Markdown)."""
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for opt in OPTIONS:
        note = "" if SERVE in opt.commands else f" ({' and '.join(opt.commands)} only)"
        rows.append(f"| `{opt.shown}` | {opt.default} | {opt.help}{note} |")
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------ validated settings


@dataclass
class ServeSettings:
    """Validated ``serve``/``start`` options (no secrets: those stay in the environment)."""

    datadir: Path
    host: str
    port: int
    speed: float
    start_at: datetime | None
    spot_balances: dict[str, float] | None = None
    futures_balance: float | None = None
    spot_fees: tuple[float, float] | None = None
    futures_fees: tuple[float, float] | None = None
    participation: float | None = None
    faults_file: Path | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    rate_limits_off: bool = False
    rate_limit_scale: float | None = None
    weight_limit: int | None = None
    admin_token_file: Path = Path(DEFAULT_ADMIN_TOKEN_FILE)

    def exchange_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~freqtrade_exec_ext.localex.server.LocalExchange`."""
        from freqtrade_exec_ext.localex.ratelimit import RateLimitConfig

        kw: dict[str, Any] = {
            "datadir": self.datadir,
            "host": self.host,
            "port": self.port,
            "speed": self.speed,
            "start_at": self.start_at,
            "faults": list(self.faults),
        }
        if self.spot_balances is not None:
            kw["spot_balances"] = dict(self.spot_balances)
        if self.futures_balance is not None:
            kw["futures_balance"] = self.futures_balance
        if self.spot_fees or self.futures_fees:
            sm, st = self.spot_fees or (_FEES.spot_maker, _FEES.spot_taker)
            fm, ft = self.futures_fees or (_FEES.usdm_maker, _FEES.usdm_taker)
            kw["fees"] = Fees(spot_maker=sm, spot_taker=st, usdm_maker=fm, usdm_taker=ft)
        if self.participation is not None:
            kw["participation"] = self.participation
        if self.rate_limits_off:
            kw["rate_limits"] = RateLimitConfig(enabled=False)
        elif self.rate_limit_scale is not None or self.weight_limit is not None:
            kw["rate_limits"] = RateLimitConfig(
                scale=self.rate_limit_scale or 1.0, weight_limit=self.weight_limit
            )
        return kw

    def serve_args(self) -> list[str]:
        """The same options for a ``serve`` command line (``start`` runs one)."""
        return [w for opt in options_for(SERVE) for w in opt.words(getattr(self, opt.dest))]


def settings_from(values: Mapping[str, Any]) -> ServeSettings:
    """Check the ``serve`` options given (``values``: dest -> text, absent ones None)."""
    settings = ServeSettings(**{o.dest: o.parse(values.get(o.dest)) for o in options_for(SERVE)})
    if settings.rate_limits_off and (settings.rate_limit_scale or settings.weight_limit):
        raise OptionError(
            "--no-rate-limits: cannot be combined with --rate-limit-scale or --weight-limit"
        )
    if settings.faults_file is not None:
        settings.faults = _load_faults(settings.faults_file)
    _check_datadir(settings.datadir)
    return settings


def _load_faults(path: Path) -> list[dict[str, Any]]:
    from freqtrade_exec_ext.localex.faults import FaultError, load_fault_file

    try:
        return load_fault_file(path)
    except FaultError as exc:
        # YAML parser messages span lines: one line for the user
        raise OptionError(f"--faults: {' '.join(str(exc).split())}") from None


def _check_datadir(datadir: Path) -> None:
    from freqtrade_exec_ext.localex.replay import find_candle_files

    spot, fut = find_candle_files(datadir)
    if not spot and not fut:
        raise OptionError(
            f"--datadir {datadir}: no candle files (<BASE>_<QUOTE>-<tf>.feather or "
            "futures/<BASE>_<QUOTE>_<QUOTE>-<tf>-futures.feather)"
        )


if __name__ == "__main__":  # python -m freqtrade_exec_ext.localex.options: the docs table
    print(docs_table(), end="")
