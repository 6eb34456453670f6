"""The local exchange in the background: start, pidfile, log, readiness, stop, admin token.

:func:`start` runs a ``serve`` command line as a detached process whose output goes to
``<pidfile>.log``, waits until it answers the readiness probe, and records
``{"pid", "url"}`` in the pidfile.  :func:`stop` ends the process the pidfile names, and
only when that process is a local exchange (its command line says ``exchange serve``).
Secrets never pass through here: the background process inherits its environment.

The admin API's token (``/_admin/*``) is random per run unless ``LOCALEX_ADMIN_TOKEN``
sets it; ``serve`` writes it to a file only its user can read (mode 0600, replaced
atomically, removed at exit), which scripts and tests read: it is never on a command line
or in a log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.errors import TemporaryFailure

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
#: readiness probe: answered outside rate limits, faults and the admin token
READY_PATH = "/_localex/ready"


ADMIN_TOKEN_ENV = "LOCALEX_ADMIN_TOKEN"  # noqa: S105 - a variable name, not a secret
_TOKEN_SAFE = re.compile(r"^[\x21-\x7e]{16,}$")  # travels in an HTTP header


class DaemonError(TemporaryFailure, RuntimeError):
    """The background exchange cannot be started (one line for the user)."""


@dataclass(frozen=True)
class Running:
    pid: int
    url: str | None


def log_path(pidfile: Path) -> Path:
    return pidfile.with_name(pidfile.name + ".log")


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def ping(url: str, timeout: float = 1.0) -> bool:
    """Whether a local exchange answers at ``url`` (the probe uses no rate limit or fault)."""
    try:
        with urllib.request.urlopen(f"{url}{READY_PATH}", timeout=timeout) as r:  # noqa: S310
            return r.status == 200
    except OSError:
        return False


def start_note(url: str, timeout: float = 5.0) -> str | None:
    """Why the replay does not start exactly at ``--start-at`` (None: it does, or unknown)."""
    try:
        with urllib.request.urlopen(f"{url}{READY_PATH}", timeout=timeout) as r:  # noqa: S310
            note = json.loads(r.read()).get("start_note")
    except (OSError, ValueError, AttributeError):
        return None
    return note if isinstance(note, str) else None


def port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def read_pidfile(path: Path) -> Running | None:
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    return Running(data["pid"], data.get("url"))


def is_our_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc: trust the pidfile
    return b"exchange" in cmdline and b"serve" in cmdline


def running(pidfile: Path) -> Running | None:
    """The local exchange the pidfile names, if it is still running."""
    info = read_pidfile(pidfile)
    return info if info is not None and is_our_server(info.pid) else None


def start(cmd: list[str], pidfile: Path, host: str, port: int) -> str:
    """Run ``cmd`` (a ``serve`` command line) in the background; its URL once it answers."""
    old = running(pidfile)
    if old is not None:
        raise DaemonError(
            f"{pidfile}: a local exchange is already running (pid {old.pid}, {old.url}); "
            "stop it first"
        )
    if port == 0:
        raise DaemonError("--port 0: give a fixed port for a background exchange")
    if not port_free(host, port):
        raise DaemonError(f"--port {port}: already in use on {host}")
    log = log_path(pidfile)
    with log.open("wb") as out:
        # secrets reach the server through the inherited environment only
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = url_of(host, port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise DaemonError(f"local exchange exited with code {proc.returncode}: {tail[0]}")
        if ping(url):
            pidfile.write_text(json.dumps({"pid": proc.pid, "url": url}) + "\n")
            return url
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        proc.terminate()
    raise DaemonError(
        f"local exchange did not answer on {url} within {START_TIMEOUT_S:.0f} s (log: {log})"
    )


def stop(pidfile: Path) -> Running | None:
    """Stop the exchange the pidfile names (SIGTERM, then SIGKILL); None if none ran."""
    info = running(pidfile)
    if info is None:
        pidfile.unlink(missing_ok=True)
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and is_our_server(info.pid) and alive(info.pid):
        time.sleep(0.1)
    if alive(info.pid) and is_our_server(info.pid):
        os.kill(info.pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return info


def alive(pid: int) -> bool:
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


# ------------------------------------------------------------------ admin token


def admin_token_from_env(env: Mapping[str, str]) -> str | None:
    """``LOCALEX_ADMIN_TOKEN`` when set (checked, never shown), else None (make one)."""
    token = env.get(ADMIN_TOKEN_ENV, "")
    if not token:
        return None
    if not _TOKEN_SAFE.match(token):
        raise DaemonError(
            f"{ADMIN_TOKEN_ENV}: must be at least 16 printable ASCII characters without "
            "spaces (it is sent in an HTTP header); value not shown"
        )
    return token


def write_token_file(path: Path, token: str) -> None:
    """Write the token readable by this user only (0600), replacing the file atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_token_file(path: Path) -> str:
    """The admin token a running venue wrote (for scripts and tests)."""
    return path.read_text().strip()


def remove_token_file(path: Path, token: str) -> None:
    """Remove the token file if it still holds this run's token."""
    with contextlib.suppress(OSError):
        if read_token_file(path) == token:
            path.unlink()


def admin_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
