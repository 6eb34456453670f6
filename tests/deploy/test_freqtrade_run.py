"""The generated configs run in the real ``freqtrade trade`` against the local exchange,
and the kill switch works on the real REST API.

The local exchange does not match orders yet, so a testnet stage on it is generated as a
Freqtrade dry-run (fills simulated on the local exchange's order books); its database is
the testnet stage's, which is what the paper stage then reads.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploytools import DEPLOYMENT, REPO, deploy, run_cli

pytestmark = pytest.mark.slow

USER, PASSWORD = "ops", "kill-switch-test-password"
FREQTRADE = Path(sys.executable).with_name("freqtrade")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def localex() -> Iterator[Any]:
    server = pytest.importorskip("freqtrade_exec_ext.localex.server")
    datadir = REPO / "user_data/data/binance"
    if not any(datadir.glob("*-5m.feather")):
        pytest.skip("no candles in user_data/data/binance")
    with server.LocalExchange(datadir, port=0) as ex:
        yield ex


def bot_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREQTRADE__")}
    env.update(
        FREQTRADE__API_SERVER__USERNAME=USER,
        FREQTRADE__API_SERVER__PASSWORD=PASSWORD,
        FREQTRADE__API_SERVER__JWT_SECRET_KEY="0123456789abcdef" * 4,
        FREQTRADE__FORCE_ENTRY_ENABLE="true",  # to drive trades through the API
    )
    env.pop("PYTEST_VERSION", None)  # Freqtrade skips its logging setup under pytest
    return env


def errors(log: str) -> list[str]:
    """ERROR lines, except Freqtrade's own complaint after cancelling an unfilled entry
    (the trade is deleted, then the endpoint fails to show it: the kill switch handles it)."""
    return [
        line
        for line in log.splitlines()
        if " - ERROR - " in line and "API Error calling: no active trade" not in line
    ]


class Bot:
    def __init__(self, root: Path, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        config = root / DEPLOYMENT / "config.json"
        self.proc = subprocess.Popen(
            [str(FREQTRADE), "trade", "-c", str(config)],
            cwd=root,
            env=bot_env(),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(
            f"{self.url}/api/v1/{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers=self.auth,
            method=method,
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def wait(self, what: str, check, timeout: float = 60.0) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc.poll() is None, f"bot exited:\n{self.log.read_text()[-3000:]}"
            try:
                result = check()
            except (urllib.error.URLError, OSError, ValueError):
                result = None
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.log.read_text()


def test_generated_configs_run_in_freqtrade_and_the_kill_switch_works(
    project, localex, tmp_path, monkeypatch, capsys
):
    port = free_port()
    local = ("--exchange", "local", "--local-url", localex.base_url, "--api-port", str(port))
    assert deploy(project, "testnet", *local) == 0

    bot = Bot(project, port, tmp_path / "testnet.log")
    try:
        bot.wait("the bot to run", lambda: bot.api("GET", "show_config")["state"] == "running")
        bot.wait("its whitelist", lambda: len(bot.api("GET", "whitelist")["whitelist"]) == 2)
        bot.api("POST", "forceenter", {"pair": "BTC/USDT", "side": "long", "ordertype": "market"})
        far_below = {"pair": "ETH/USDT", "side": "long", "ordertype": "limit", "price": 100.0}
        bot.api("POST", "forceenter", far_below)
        bot.wait("two open trades", lambda: len(bot.api("GET", "status")) == 2)

        monkeypatch.setenv("FREQTRADE__API_SERVER__USERNAME", USER)
        monkeypatch.setenv("FREQTRADE__API_SERVER__PASSWORD", PASSWORD)
        capsys.readouterr()
        assert run_cli("kill", "STR-001", "--flatten", "--root", str(project)) == 0
        out = capsys.readouterr().out
        assert "stop new entries: ok" in out
        assert "cancel open order of trade 2 (ETH/USDT): ok" in out
        assert "exit every position (market): ok" in out
        bot.wait("all positions closed", lambda: bot.api("GET", "status") == [])
        assert bot.api("GET", "show_config")["state"] == "paused"
    finally:
        log = bot.stop()
    assert "Dry run is enabled" in log and "ExecutionCostFilter" in log and errors(log) == []

    # the testnet database is the evidence the paper stage needs
    assert deploy(project, "paper", *local) == 0
    checklist = (project / DEPLOYMENT / "deployment-checklist.md").read_text()
    assert (
        "- [x] Testnet dry-run successful: 2 filled orders, 0 rejected, 1 closed trade, "
        "0 failed checks (user_data/STR-001.testnet.sqlite)"
    ) in checklist

    paper = Bot(project, port, tmp_path / "paper.log")
    try:
        paper.wait("the REST API", lambda: paper.api("GET", "ping").get("status") == "pong")
        paper.wait(
            "a few bot loops",
            lambda: (
                paper.log.read_text().count("exec_ext") > 0
                and paper.api("GET", "show_config")["dry_run"] is True
                and paper.api("GET", "whitelist")["whitelist"] == ["BTC/USDT", "ETH/USDT"]
            ),
        )
        time.sleep(6)  # one more loop (process_throttle_secs 5)
        assert paper.proc.poll() is None
    finally:
        log = paper.stop()
    assert "Changing state to: RUNNING" in log and errors(log) == []
    assert (project / "user_data/STR-001.paper.sqlite").is_file()
    assert (project / "user_data/logs/STR-001.paper.log").is_file()
    assert run_cli("validate", str(project / DEPLOYMENT)) == 0
