"""``freqtrade-exec exchange serve|start|stop``: the local Binance-compatible exchange.

Trading needs an API key and secret, taken from the environment only (never from a
command-line value or a file): ``LOCALEX_API_KEY``/``LOCALEX_API_SECRET`` when either is
set, else the bot's own ``FREQTRADE__EXCHANGE__KEY``/``FREQTRADE__EXCHANGE__SECRET``, so
one ``.env`` serves the venue and the bot.  Without them the venue serves market data and
every signed endpoint answers -2015.  ``start`` hands the keys to the background ``serve``
by environment inheritance: its command line, the pidfile and the log never hold them.

The options are declared once, in :mod:`freqtrade_exec_ext.localex.options`; the
background process handling is :mod:`freqtrade_exec_ext.localex.daemon`.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from freqtrade_exec_ext.cli.errors import CliError
from freqtrade_exec_ext.localex import daemon
from freqtrade_exec_ext.localex.model import DEFAULT_FUTURES_BALANCE, DEFAULT_SPOT_BALANCES, Fees
from freqtrade_exec_ext.localex.options import (
    SERVE,
    START,
    STOP,
    OptionError,
    ServeSettings,
    add_arguments,
    option_value,
    settings_from,
)

#: (key variable, secret variable); the first pair with either variable set is used
KEY_ENV_PAIRS = (
    ("LOCALEX_API_KEY", "LOCALEX_API_SECRET"),
    ("FREQTRADE__EXCHANGE__KEY", "FREQTRADE__EXCHANGE__SECRET"),
)
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")  # the key travels in an HTTP header


class _OneLineParser(argparse.ArgumentParser):
    """argparse's own errors (unknown option, missing value) as one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, extras = super().parse_known_args(args, namespace)
        if extras:
            # name the options only: a value typed by mistake could be a secret
            names = [a.split("=", 1)[0] for a in extras if a.startswith("-")]
            shown = f"{' '.join(names)} (values not shown)" if names else "a value (not shown)"
            hint = ""
            if any(w in n.lower() for n in names for w in ("key", "secret")):
                hint = "; the API key and secret are read from the environment only"
            self.error(f"unrecognized arguments: {shown}{hint}")
        return ns, extras


def register(sub: Any) -> None:
    ex = sub.add_parser("exchange", help="local Binance-compatible exchange on 127.0.0.1")
    ex_sub = ex.add_subparsers(
        dest="exchange_command", metavar="ACTION", parser_class=_OneLineParser
    )
    ex_sub.required = True
    commands = {
        SERVE: ("run in the foreground (Ctrl-C stops)", run_serve),
        START: ("start in the background and print its URL", run_start),
        STOP: ("stop the background exchange", run_stop),
    }
    for name, (text, func) in commands.items():
        parser = ex_sub.add_parser(name, help=text)
        add_arguments(parser, name)
        parser.set_defaults(func=func)


# ------------------------------------------------------------------ options


def _validated(args: argparse.Namespace) -> ServeSettings:
    try:
        return settings_from(vars(args))
    except OptionError as exc:
        raise CliError(str(exc)) from None


def api_keys_from_env(env: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """``({key: secret}, "KEY_VAR/SECRET_VAR")``, or ``({}, None)`` when no key is set.

    Raises :class:`CliError` (naming the variables, never a value) for half a pair or a key
    that cannot travel in an HTTP header.
    """
    for key_var, secret_var in KEY_ENV_PAIRS:
        key, secret = env.get(key_var, ""), env.get(secret_var, "")
        if not key and not secret:
            continue
        if not key or not secret:
            missing, given = (key_var, secret_var) if not key else (secret_var, key_var)
            raise CliError(
                f"{missing}: not set while {given} is; set both (a throwaway pair, e.g. "
                "openssl rand -hex 32 for each) or neither (market data only)"
            )
        if not _HEADER_SAFE.match(key):
            raise CliError(
                f"{key_var}: must be printable ASCII without spaces (it is sent in an HTTP "
                "header); value not shown"
            )
        return {key: secret}, f"{key_var}/{secret_var}"
    return {}, None


# ------------------------------------------------------------------ startup summary


def _amount(value: float) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".") or "0"


def _pct(rate: float) -> str:
    return f"{rate * 100:g}%"


def venue_summary(url: str, s: ServeSettings, key_source: str | None) -> list[str]:
    """What the venue offers, for the startup lines (never a key or secret)."""
    if s.faults_file is not None:
        kinds = ", ".join(dict.fromkeys(str(f.get("kind")) for f in s.faults)) or "empty"
        faults = f"faults: {len(s.faults)} loaded from {s.faults_file} ({kinds})"
    else:
        faults = "faults: none"
    if s.rate_limits_off:
        limits = "rate limits: off"
    else:
        extra = []
        if s.weight_limit is not None:
            extra.append(f"weight limit {s.weight_limit}")
        if s.rate_limit_scale is not None:
            extra.append(f"windows scaled 1/{s.rate_limit_scale:g}")
        limits = "rate limits: Binance's" + (f" ({', '.join(extra)})" if extra else "")
    if key_source is None:
        head = (
            f"local exchange on {url}: market data only; trading disabled (no API key in the "
            f"environment: signed endpoints answer -2015); {limits}; {faults}"
        )
        how = (
            "to trade: set FREQTRADE__EXCHANGE__KEY and FREQTRADE__EXCHANGE__SECRET (or "
            "LOCALEX_API_KEY and LOCALEX_API_SECRET) to a throwaway pair (e.g. openssl rand "
            "-hex 32 for each) here and in the bot's environment, then restart"
        )
        return [head, how]
    d = Fees()
    spot = s.spot_balances if s.spot_balances is not None else DEFAULT_SPOT_BALANCES
    balances = ", ".join(f"{_amount(v)} {a}" for a, v in spot.items()) or "nothing"
    futures = s.futures_balance if s.futures_balance is not None else DEFAULT_FUTURES_BALANCE
    sm, st = s.spot_fees or (d.spot_maker, d.spot_taker)
    fm, ft = s.futures_fees or (d.usdm_maker, d.usdm_taker)
    head = (
        f"local exchange on {url}: trading enabled (API key from {key_source}); spot "
        f"{balances}; USDT-M wallet {_amount(futures)} USDT; fees maker/taker spot "
        f"{_pct(sm)}/{_pct(st)}, USDT-M {_pct(fm)}/{_pct(ft)}; {limits}; {faults}"
    )
    return [head]


def _unknown_assets(ex: Any, s: ServeSettings) -> list[str]:
    if not s.spot_balances or ex.venue is None:
        return []
    assets: set[str] = set()
    for sym in ex.venue.exchange_info("spot").get("symbols", []):
        assets.update((sym.get("baseAsset"), sym.get("quoteAsset")))
    return [a for a in s.spot_balances if a not in assets]


# ------------------------------------------------------------------ commands


def run_serve(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.localex.replay_clock import ReplayError, start_note
    from freqtrade_exec_ext.localex.server import LocalExchange, LocalExchangeError

    settings = _validated(args)
    keys, key_source = api_keys_from_env(os.environ)
    token = _admin_token_from_env()
    ex = LocalExchange(**settings.exchange_kwargs(), api_keys=keys, admin_token=token)
    del keys
    admin_line = _write_admin_token(settings.admin_token_file, ex.admin_token, token is not None)
    try:
        ex.start()
    except (LocalExchangeError, ReplayError) as exc:
        daemon.remove_token_file(settings.admin_token_file, ex.admin_token)
        raise CliError(str(exc)) from None
    stop = threading.Event()

    def _term(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _term)
    for line in venue_summary(ex.base_url, settings, key_source):
        print(line)
    print(admin_line)
    unknown = _unknown_assets(ex, settings)
    if unknown:
        print(f"note: --balance {', '.join(unknown)}: no listed spot symbol trades it")
    data_from = _fmt_ms(ex.venue.data_time() if ex.venue else 0)
    print(
        f"datadir {settings.datadir}, speed {settings.speed:g}, replaying data from "
        f"{data_from}; Ctrl-C stops"
    )
    note = start_note(ex.venue.clock) if ex.venue else None
    if note:
        print(f"note: {note}")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        ex.stop()
        daemon.remove_token_file(settings.admin_token_file, ex.admin_token)
    return 0


def _admin_token_from_env() -> str | None:
    try:
        return daemon.admin_token_from_env(os.environ)
    except daemon.DaemonError as exc:
        raise CliError(str(exc)) from None


def _write_admin_token(path: Path, token: str, from_env: bool) -> str:
    """Write the admin token file; the line that says where the token is (never the token)."""
    source = f"from {daemon.ADMIN_TOKEN_ENV}" if from_env else "random for this run"
    try:
        daemon.write_token_file(path, token)
    except OSError as exc:
        return (
            f"admin API (/_admin): token {source}; could not write {path} "
            f"({exc.strerror or exc}): set {daemon.ADMIN_TOKEN_ENV} to reach it"
        )
    return f"admin API (/_admin): token {source}, in {path} (Authorization: Bearer <token>)"


def _fmt_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def run_start(args: argparse.Namespace) -> int:
    settings = _validated(args)
    _, key_source = api_keys_from_env(os.environ)  # refuse half a pair here, in one line
    _admin_token_from_env()  # and a bad admin token
    pidfile: Path = option_value(vars(args), "pidfile")
    cmd = [sys.executable, "-m", "freqtrade_exec_ext.cli.main", "exchange", SERVE]
    try:
        url = daemon.start(cmd + settings.serve_args(), pidfile, settings.host, settings.port)
    except daemon.DaemonError as exc:
        raise CliError(str(exc)) from None
    print(url)  # stdout holds the URL only: URL=$(freqtrade-exec exchange start)
    sys.stdout.flush()
    for line in venue_summary(url, settings, key_source):
        print(line, file=sys.stderr)
    print(f"admin API token: {settings.admin_token_file} (mode 0600)", file=sys.stderr)
    note = daemon.start_note(url)
    if note:
        print(f"note: {note}", file=sys.stderr)
    print(f"log: {daemon.log_path(pidfile)}; stop: freqtrade-exec exchange stop", file=sys.stderr)
    return 0


def run_stop(args: argparse.Namespace) -> int:
    pidfile: Path = option_value(vars(args), "pidfile")
    stopped = daemon.stop(pidfile)
    if stopped is None:
        print(f"local exchange not running ({pidfile})")
    else:
        print(f"local exchange stopped (pid {stopped.pid}, {stopped.url})")
    return 0
