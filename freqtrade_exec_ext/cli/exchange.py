"""``freqtrade-exec exchange serve|start|stop``: the local Binance-compatible exchange.

Trading needs an API key and secret, taken from the environment only (never from a
command-line value or a file): ``LOCALEX_API_KEY``/``LOCALEX_API_SECRET`` when either is
set, else the bot's own ``FREQTRADE__EXCHANGE__KEY``/``FREQTRADE__EXCHANGE__SECRET``, so
one ``.env`` serves the venue and the bot.  Without them the venue serves market data and
every signed endpoint answers -2015.  ``start`` hands the keys to the background ``serve``
by environment inheritance: its command line, the pidfile and the log never hold them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from freqtrade_exec_ext.cli.errors import CliError

DEFAULT_PORT = 8765
DEFAULT_DATADIR = "user_data/data/binance"
DEFAULT_PIDFILE = ".localex.pid"
START_TIMEOUT_S = 30.0
#: (key variable, secret variable); the first pair with either variable set is used
KEY_ENV_PAIRS = (
    ("LOCALEX_API_KEY", "LOCALEX_API_SECRET"),
    ("FREQTRADE__EXCHANGE__KEY", "FREQTRADE__EXCHANGE__SECRET"),
)
MAX_FEE = 0.1  # Freqtrade's own bound for a fee rate
_ASSET = re.compile(r"^[A-Z0-9]{1,20}$")
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

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
        p.add_argument("--port", default=str(DEFAULT_PORT), help=f"default {DEFAULT_PORT}")
        p.add_argument(
            "--datadir",
            default=DEFAULT_DATADIR,
            help=f"freqtrade datadir (default {DEFAULT_DATADIR})",
        )
        p.add_argument("--speed", default="1", help="replay speed (default 1)")
        p.add_argument(
            "--start-at", default=None, help="data time to start the replay at (ISO 8601, UTC)"
        )
        t = p.add_argument_group(
            "trading",
            "The API key and secret come from the environment only: LOCALEX_API_KEY and "
            "LOCALEX_API_SECRET if set, else FREQTRADE__EXCHANGE__KEY and "
            "FREQTRADE__EXCHANGE__SECRET (what the bot reads). Without them the venue "
            "serves market data only.",
        )
        t.add_argument(
            "--balance",
            action="append",
            metavar="ASSET=AMOUNT",
            help="spot balance, repeatable (default USDT=10000; any --balance replaces it)",
        )
        t.add_argument(
            "--futures-balance", metavar="USDT", help="USDT-M wallet balance (default 10000)"
        )
        t.add_argument(
            "--spot-fees", metavar="MAKER,TAKER", help="spot fee rates (default 0.001,0.001)"
        )
        t.add_argument(
            "--futures-fees",
            metavar="MAKER,TAKER",
            help="USDT-M fee rates (default 0.0002,0.0005)",
        )
        t.add_argument(
            "--participation",
            metavar="RATIO",
            help="share of the replayed volume a resting order can take (default 0.2)",
        )
        t.add_argument("--faults", metavar="FILE", help="fault script to load (JSON or YAML)")
        r = p.add_argument_group("rate limits (Binance's by default)")
        r.add_argument("--no-rate-limits", action="store_true", help="never answer 429/418")
        r.add_argument(
            "--rate-limit-scale",
            metavar="X",
            help="shrink every limit window X times (30: a one-minute window lasts 2 s)",
        )
        r.add_argument(
            "--weight-limit",
            metavar="N",
            help="request weight allowed per window, instead of Binance's (6000/min spot)",
        )

    serve = ex_sub.add_parser("serve", help="run in the foreground (Ctrl-C stops)")
    common(serve)
    serve.set_defaults(func=run_serve)
    start = ex_sub.add_parser("start", help="start in the background and print its URL")
    common(start)
    start.add_argument("--pidfile", default=DEFAULT_PIDFILE, help=f"default {DEFAULT_PIDFILE}")
    start.set_defaults(func=run_start)
    stop = ex_sub.add_parser("stop", help="stop the background exchange")
    stop.add_argument("--pidfile", default=DEFAULT_PIDFILE, help=f"default {DEFAULT_PIDFILE}")
    stop.set_defaults(func=run_stop)


# ------------------------------------------------------------------ options


def _number(option: str, text: str, allowed: str, ok: Callable[[float], bool]) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and ok(value)):
        raise CliError(f"{option} {text}: {allowed}")
    return value


def _balances(values: list[str] | None) -> dict[str, float] | None:
    if not values:
        return None
    out: dict[str, float] = {}
    for raw in values:
        asset, sep, amount = raw.partition("=")
        asset = asset.strip().upper()
        if not sep or not _ASSET.match(asset):
            raise CliError(f"--balance {raw}: expected ASSET=AMOUNT, e.g. --balance USDT=10000")
        if asset in out:
            raise CliError(f"--balance {asset}: given twice")
        try:
            value = float(amount)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise CliError(f"--balance {raw}: AMOUNT must be a number >= 0")
        out[asset] = value
    return out


def _fee_pair(option: str, text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    allowed = f"expected MAKER,TAKER rates within 0..{MAX_FEE:g}, e.g. 0.001,0.001"
    parts = text.split(",")
    if len(parts) != 2:
        raise CliError(f"{option} {text}: {allowed}")
    rates = []
    for part in parts:
        try:
            rate = float(part)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and 0 <= rate <= MAX_FEE):
            raise CliError(f"{option} {text}: {allowed}")
        rates.append(rate)
    return rates[0], rates[1]


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

    def exchange_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~freqtrade_exec_ext.localex.server.LocalExchange`."""
        from freqtrade_exec_ext.localex.ratelimit import RateLimitConfig
        from freqtrade_exec_ext.localex.trading import Fees

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
            d = Fees()
            sm, st = self.spot_fees or (d.spot_maker, d.spot_taker)
            fm, ft = self.futures_fees or (d.usdm_maker, d.usdm_taker)
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
        args = ["--host", self.host, "--port", str(self.port)]
        args += ["--datadir", str(self.datadir.resolve()), "--speed", repr(self.speed)]
        if self.start_at is not None:
            args += ["--start-at", self.start_at.isoformat()]
        for asset, amount in (self.spot_balances or {}).items():
            args += ["--balance", f"{asset}={amount!r}"]
        if self.futures_balance is not None:
            args += ["--futures-balance", repr(self.futures_balance)]
        if self.spot_fees:
            args += ["--spot-fees", f"{self.spot_fees[0]!r},{self.spot_fees[1]!r}"]
        if self.futures_fees:
            args += ["--futures-fees", f"{self.futures_fees[0]!r},{self.futures_fees[1]!r}"]
        if self.participation is not None:
            args += ["--participation", repr(self.participation)]
        if self.faults_file is not None:
            args += ["--faults", str(self.faults_file.resolve())]
        if self.rate_limits_off:
            args.append("--no-rate-limits")
        if self.rate_limit_scale is not None:
            args += ["--rate-limit-scale", repr(self.rate_limit_scale)]
        if self.weight_limit is not None:
            args += ["--weight-limit", str(self.weight_limit)]
        return args


def _validated(args: argparse.Namespace) -> ServeSettings:
    from freqtrade_exec_ext.localex.replay import find_candle_files
    from freqtrade_exec_ext.localex.server import LocalExchangeError, check_loopback

    try:
        check_loopback(args.host)
    except LocalExchangeError as exc:
        raise CliError(f"--host: {exc}") from None
    port = _number("--port", args.port, "must be an integer 0..65535", lambda v: 0 <= v <= 65535)
    if port != int(port):
        raise CliError(f"--port {args.port}: must be an integer 0..65535")
    speed = _number("--speed", args.speed, "must be a positive number", lambda v: v > 0)
    start_at = None
    if args.start_at:
        try:
            start_at = datetime.fromisoformat(args.start_at)
        except ValueError:
            raise CliError(
                f"--start-at {args.start_at!r}: not an ISO 8601 date/time (e.g. 2025-10-01T00:00)"
            ) from None
        if start_at.tzinfo is None:
            start_at = start_at.replace(tzinfo=UTC)
    settings = ServeSettings(
        datadir=Path(args.datadir),
        host=args.host,
        port=int(port),
        speed=speed,
        start_at=start_at,
        spot_balances=_balances(args.balance),
        spot_fees=_fee_pair("--spot-fees", args.spot_fees),
        futures_fees=_fee_pair("--futures-fees", args.futures_fees),
        rate_limits_off=bool(args.no_rate_limits),
    )
    if args.futures_balance is not None:
        settings.futures_balance = _number(
            "--futures-balance", args.futures_balance, "must be a number >= 0", lambda v: v >= 0
        )
    if args.participation is not None:
        settings.participation = _number(
            "--participation", args.participation, "must be within 0..1 (0 excluded)",
            lambda v: 0 < v <= 1,
        )  # fmt: skip
    if args.rate_limit_scale is not None:
        settings.rate_limit_scale = _number(
            "--rate-limit-scale", args.rate_limit_scale, "must be a positive number",
            lambda v: v > 0,
        )  # fmt: skip
    if args.weight_limit is not None:
        weight = _number(
            "--weight-limit", args.weight_limit, "must be a positive integer",
            lambda v: v >= 1 and v == int(v),
        )  # fmt: skip
        settings.weight_limit = int(weight)
    if settings.rate_limits_off and (settings.rate_limit_scale or settings.weight_limit):
        raise CliError(
            "--no-rate-limits: cannot be combined with --rate-limit-scale or --weight-limit"
        )
    if args.faults is not None:
        settings.faults_file = Path(args.faults)
        settings.faults = _load_faults(settings.faults_file)
    spot, fut = find_candle_files(settings.datadir)
    if not spot and not fut:
        raise CliError(
            f"--datadir {settings.datadir}: no candle files (<BASE>_<QUOTE>-<tf>.feather or "
            "futures/<BASE>_<QUOTE>_<QUOTE>-<tf>-futures.feather)"
        )
    return settings


def _load_faults(path: Path) -> list[dict[str, Any]]:
    from freqtrade_exec_ext.localex.faults import FaultError, load_fault_file

    try:
        return load_fault_file(path)
    except FaultError as exc:
        # YAML parser messages span lines: one line for the user
        raise CliError(f"--faults: {' '.join(str(exc).split())}") from None


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
    from freqtrade_exec_ext.localex.trading import Fees

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
    spot = s.spot_balances if s.spot_balances is not None else {"USDT": 10_000.0}
    balances = ", ".join(f"{_amount(v)} {a}" for a, v in spot.items()) or "nothing"
    futures = s.futures_balance if s.futures_balance is not None else 10_000.0
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
    from freqtrade_exec_ext.localex.replay import ReplayError
    from freqtrade_exec_ext.localex.server import LocalExchange, LocalExchangeError

    settings = _validated(args)
    keys, key_source = api_keys_from_env(os.environ)
    ex = LocalExchange(**settings.exchange_kwargs(), api_keys=keys)
    del keys
    try:
        ex.start()
    except (LocalExchangeError, ReplayError) as exc:
        raise CliError(str(exc)) from None
    stop = threading.Event()

    def _term(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _term)
    for line in venue_summary(ex.base_url, settings, key_source):
        print(line)
    unknown = _unknown_assets(ex, settings)
    if unknown:
        print(f"note: --balance {', '.join(unknown)}: no listed spot symbol trades it")
    data_from = _fmt_ms(ex.venue.data_time() if ex.venue else 0)
    print(
        f"datadir {settings.datadir}, speed {settings.speed:g}, replaying data from "
        f"{data_from}; Ctrl-C stops"
    )
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        ex.stop()
    return 0


def _fmt_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _port_free(host: str, port: int) -> bool:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _ping(url: str) -> bool:
    """The server answers (outside rate limits and faults: probing uses none of them up)."""
    import urllib.request

    from freqtrade_exec_ext.localex.server import READY_PATH

    try:
        with urllib.request.urlopen(f"{url}{READY_PATH}", timeout=1) as r:  # noqa: S310
            return r.status == 200
    except OSError:
        return False


def _read_pidfile(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def _is_our_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc: trust the pidfile
    return b"exchange" in cmdline and b"serve" in cmdline


def run_start(args: argparse.Namespace) -> int:
    settings = _validated(args)
    _, key_source = api_keys_from_env(os.environ)  # refuse half a pair here, in one line
    pidfile = Path(args.pidfile)
    old = _read_pidfile(pidfile)
    if old and _is_our_server(old["pid"]):
        raise CliError(
            f"{pidfile}: a local exchange is already running (pid {old['pid']}, "
            f"{old.get('url')}); stop it first"
        )
    if settings.port == 0:
        raise CliError("--port 0: give a fixed port for a background exchange")
    if not _port_free(settings.host, settings.port):
        raise CliError(f"--port {settings.port}: already in use on {settings.host}")
    cmd = [sys.executable, "-m", "freqtrade_exec_ext.cli.main", "exchange", "serve"]
    cmd += settings.serve_args()
    log_path = pidfile.with_name(pidfile.name + ".log")
    with log_path.open("wb") as log:
        # the API key and secret reach the server through the inherited environment only
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{host}:{settings.port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise CliError(f"local exchange exited with code {proc.returncode}: {tail[0]}")
        if _ping(url):
            pidfile.write_text(json.dumps({"pid": proc.pid, "url": url}) + "\n")
            print(url)  # stdout holds the URL only: URL=$(freqtrade-exec exchange start)
            sys.stdout.flush()
            for line in venue_summary(url, settings, key_source):
                print(line, file=sys.stderr)
            print(f"log: {log_path}; stop: freqtrade-exec exchange stop", file=sys.stderr)
            return 0
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        proc.terminate()
    raise CliError(
        f"local exchange did not answer on {url} within {START_TIMEOUT_S:.0f} s (log: {log_path})"
    )


def run_stop(args: argparse.Namespace) -> int:
    pidfile = Path(args.pidfile)
    info = _read_pidfile(pidfile)
    if info is None or not _is_our_server(info["pid"]):
        pidfile.unlink(missing_ok=True)
        print(f"local exchange not running ({pidfile})")
        return 0
    pid = info["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _is_our_server(pid) and _alive(pid):
        time.sleep(0.1)
    if _alive(pid) and _is_our_server(pid):
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    print(f"local exchange stopped (pid {pid}, {info.get('url')})")
    return 0


def _alive(pid: int) -> bool:
    try:
        # reap it if it is our child (not the case across CLI invocations)
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"
