"""``freqtrade-exec exchange start|stop`` in a subprocess, as a user runs them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "freqtrade_exec_ext.cli.main", "exchange", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_serves_in_background_and_stop_stops_it(tmp_path, repo_datadir) -> None:
    port = _free_port()
    pidfile = tmp_path / "lx.pid"
    common = ["--datadir", str(repo_datadir), "--pidfile", str(pidfile)]
    started = _cli("start", "--port", str(port), *common, cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert url == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url}/api/v3/time", timeout=5) as r:
            assert "serverTime" in json.loads(r.read())
        # the port is now taken: a second start refuses with one line
        again = _cli(
            "start",
            "--port",
            str(port),
            *common[:2],
            "--pidfile",
            str(tmp_path / "other.pid"),
            cwd=tmp_path,
        )
        assert again.returncode == 2
        assert again.stderr.strip() == f"--port {port}: already in use on 127.0.0.1"
    finally:
        stopped = _cli("stop", "--pidfile", str(pidfile), cwd=tmp_path)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not pidfile.exists()
    with socket.socket() as s:  # port released (REUSEADDR: our own client left TIME_WAITs)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    idle = _cli("stop", "--pidfile", str(pidfile), cwd=tmp_path)
    assert idle.returncode == 0 and "not running" in idle.stdout


def test_start_refuses_a_datadir_without_candles(tmp_path) -> None:
    res = _cli(
        "start",
        "--port",
        str(_free_port()),
        "--datadir",
        str(tmp_path),
        "--pidfile",
        str(tmp_path / "x.pid"),
        cwd=tmp_path,
    )
    assert res.returncode == 2
    assert res.stderr.startswith(f"--datadir {tmp_path}: no candle files")
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "x.pid").exists()
