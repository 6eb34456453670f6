"""``freqtrade-exec exchange serve|start|stop``: the local Binance-compatible exchange."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.cli.errors import CliError

DEFAULT_PORT = 8765
DEFAULT_DATADIR = "user_data/data/binance"
DEFAULT_PIDFILE = ".localex.pid"
START_TIMEOUT_S = 30.0


def register(sub: Any) -> None:
    ex = sub.add_parser("exchange", help="local Binance-compatible exchange on 127.0.0.1")
    ex_sub = ex.add_subparsers(dest="exchange_command", metavar="ACTION")
    ex_sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
        p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
        p.add_argument(
            "--datadir",
            default=DEFAULT_DATADIR,
            help=f"freqtrade datadir (default {DEFAULT_DATADIR})",
        )
        p.add_argument("--speed", type=float, default=1.0, help="replay speed (default 1)")
        p.add_argument(
            "--start-at", default=None, help="data time to start the replay at (ISO 8601, UTC)"
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


def _validated(args: argparse.Namespace) -> dict[str, Any]:
    from freqtrade_exec_ext.localex.replay import find_candle_files
    from freqtrade_exec_ext.localex.server import LocalExchangeError, check_loopback

    try:
        check_loopback(args.host)
    except LocalExchangeError as exc:
        raise CliError(f"--host: {exc}") from None
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: must be 0..65535")
    if not (args.speed > 0 and args.speed < float("inf")):
        raise CliError(f"--speed {args.speed}: must be a positive number")
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
    datadir = Path(args.datadir)
    spot, fut = find_candle_files(datadir)
    if not spot and not fut:
        raise CliError(
            f"--datadir {datadir}: no candle files (<BASE>_<QUOTE>-<tf>.feather or "
            "futures/<BASE>_<QUOTE>_<QUOTE>-<tf>-futures.feather)"
        )
    return {
        "datadir": datadir,
        "host": args.host,
        "port": args.port,
        "speed": args.speed,
        "start_at": start_at,
    }


def run_serve(args: argparse.Namespace) -> int:
    from freqtrade_exec_ext.localex.replay import ReplayError
    from freqtrade_exec_ext.localex.server import LocalExchange, LocalExchangeError

    opts = _validated(args)
    ex = LocalExchange(**opts)
    try:
        ex.start()
    except (LocalExchangeError, ReplayError) as exc:
        raise CliError(str(exc)) from None
    stop = threading.Event()

    def _term(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _term)
    print(f"local exchange on {ex.base_url} (datadir {opts['datadir']}, speed {opts['speed']})")
    print(f"replaying data from {_fmt_ms(ex.venue.data_time() if ex.venue else 0)}; Ctrl-C stops")
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
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/api/v3/ping", timeout=1) as r:  # noqa: S310
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
    opts = _validated(args)
    pidfile = Path(args.pidfile)
    old = _read_pidfile(pidfile)
    if old and _is_our_server(old["pid"]):
        raise CliError(
            f"{pidfile}: a local exchange is already running (pid {old['pid']}, "
            f"{old.get('url')}); stop it first"
        )
    if opts["port"] == 0:
        raise CliError("--port 0: give a fixed port for a background exchange")
    if not _port_free(opts["host"], opts["port"]):
        raise CliError(f"--port {opts['port']}: already in use on {opts['host']}")
    cmd = [
        sys.executable,
        "-m",
        "freqtrade_exec_ext.cli.main",
        "exchange",
        "serve",
        "--host",
        opts["host"],
        "--port",
        str(opts["port"]),
        "--datadir",
        str(opts["datadir"].resolve()),
        "--speed",
        str(opts["speed"]),
    ]
    if opts["start_at"] is not None:
        cmd += ["--start-at", opts["start_at"].isoformat()]
    log_path = pidfile.with_name(pidfile.name + ".log")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    host = f"[{opts['host']}]" if ":" in opts["host"] else opts["host"]
    url = f"http://{host}:{opts['port']}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise CliError(f"local exchange exited with code {proc.returncode}: {tail[0]}")
        if _ping(url):
            pidfile.write_text(json.dumps({"pid": proc.pid, "url": url}) + "\n")
            print(url)
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
