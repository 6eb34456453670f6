"""The generated configs run in the real ``freqtrade trade`` against the local exchange,
and the kill switch works on the real REST API.

The testnet stage on ``--exchange local`` trades LIVE (``dry_run: false``): the venue runs
exactly as the generated compose service would (``freqtrade-exec exchange serve`` with its
arguments), and the venue and the bot get the same throwaway key pair through their
environment, as from one ``.env``.  The orders are the venue's own (its matching engine,
balances and fills); the testnet database they leave is the evidence the paper stage reads.
The keys exist only in this process's memory and the two child environments.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploytools import DEPLOYMENT, REPO, deploy, run_cli
from support import free_port

from freqtrade_exec_ext.localex.daemon import admin_headers, read_token_file

pytestmark = pytest.mark.slow

USER, PASSWORD = "ops", "kill-switch-test-password"
FREQTRADE = Path(sys.executable).with_name("freqtrade")
FREQTRADE_EXEC = Path(sys.executable).with_name("freqtrade-exec")
DATADIR = REPO / "user_data/data/binance"
KEY_VARS = ("FREQTRADE__EXCHANGE__KEY", "FREQTRADE__EXCHANGE__SECRET")




def clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FREQTRADE__", "LOCALEX_API_")) and k != "PYTEST_VERSION"
    }  # (Freqtrade skips its logging setup under pytest)
    return env


def bot_env(keys: dict[str, str] | None = None) -> dict[str, str]:
    env = clean_env()
    env.update(
        FREQTRADE__API_SERVER__USERNAME=USER,
        FREQTRADE__API_SERVER__PASSWORD=PASSWORD,
        FREQTRADE__API_SERVER__JWT_SECRET_KEY="0123456789abcdef" * 4,
        FREQTRADE__FORCE_ENTRY_ENABLE="true",  # to drive trades through the API
        # the test's forced trades stay open until the test closes them: the strategy's
        # exit signal acts only above 50 % profit (on a loaded machine the replay had
        # reached an exit candle, and the signal closed the first trade 50 ms after its
        # stop-loss was placed, before the test could see the stop on the venue); the
        # kill switch's FLATTEN turns exit_profit_only off itself
        FREQTRADE__EXIT_PROFIT_ONLY="true",
        FREQTRADE__EXIT_PROFIT_OFFSET="0.5",
    )
    env.update(keys or {})
    return env


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


class Venue:
    """The local exchange as the generated compose service runs it, on the host."""

    def __init__(self, project: Path, keys: dict[str, str], log: Path) -> None:
        compose = yaml.safe_load((project / DEPLOYMENT / "docker-compose.yml").read_text())
        service = compose["services"]["localex"]
        # testnet: the bot's key pair and nothing else of .env; paper: no keys at all
        assert set(service.get("environment") or {}) == set(keys)
        args = list(service["entrypoint"])
        assert args[:3] == ["freqtrade-exec", "exchange", "serve"]
        args[args.index("--datadir") + 1] = str(DATADIR)  # /freqtrade/user_data/... there
        self.args = args
        self.url = f"http://127.0.0.1:{args[args.index('--port') + 1]}"
        self.log = log
        self.cwd = project
        self.proc = subprocess.Popen(
            [str(FREQTRADE_EXEC), *args[1:]],
            cwd=project,
            env={**clean_env(), **keys},  # the key pair reaches the venue this way only
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        end = time.monotonic() + 60
        while time.monotonic() < end:
            assert self.proc.poll() is None, f"venue exited:\n{log.read_text()}"
            try:
                get_json(f"{self.url}/api/v3/ping")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the venue did not start:\n{log.read_text()}")

    def admin(self) -> dict[str, str]:
        """The admin API's per-run token, from the file the venue wrote (mode 0600)."""
        return admin_headers(read_token_file(self.cwd / ".localex.admin-token"))

    def state(self) -> dict[str, Any]:
        return get_json(f"{self.url}/_admin/state", self.admin())

    def fills(self) -> list[dict[str, Any]]:
        return get_json(f"{self.url}/_admin/fills", self.admin())

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.log.read_text()


def errors(log: str) -> list[str]:
    """ERROR lines, except Freqtrade's own complaint after cancelling an unfilled entry
    (the trade is deleted, then the endpoint fails to show it: the kill switch handles it)."""
    return [
        line
        for line in log.splitlines()
        if " - ERROR - " in line and "API Error calling: no active trade" not in line
    ]


class Bot:
    def __init__(
        self, root: Path, port: int, log: Path, keys: dict[str, str] | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        config = root / DEPLOYMENT / "config.json"
        self.proc = subprocess.Popen(
            [str(FREQTRADE), "trade", "-c", str(config)],
            cwd=root,
            env=bot_env(keys),
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

    def wait(self, what: str, check, timeout: float = 240.0) -> Any:
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
        """Stop as a user would: /stop over the REST API, then SIGINT once the worker is
        idle. A SIGINT in the middle of a bot loop can land inside a database call, and
        Freqtrade's own cleanup then logs "Error during cleanup" (seen on a busy machine)."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.api("POST", "stop")
                end = time.monotonic() + 120
                while time.monotonic() < end and self.proc.poll() is None:
                    if "Changing state to: STOPPED" in self.log.read_text():
                        break
                    time.sleep(0.25)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.log.read_text()


def _sessions(db: Path) -> list[Any]:
    """The run sessions a bot recorded in its database ([] when none yet)."""
    from sqlalchemy import create_engine

    from freqtrade_exec_ext.store.sessions import read_sessions

    if not db.is_file():
        return []
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return read_sessions(conn) or []
    finally:
        engine.dispose()


def venue_order_ids(fills: list[dict[str, Any]], side: str, symbol: str) -> set[str]:
    return {f["order_id"] for f in fills if f["side"] == side and f["symbol"] == symbol}


def run_testnet_bot(
    project: Path,
    api_port: int,
    tmp_path: Path,
    keys: dict[str, str],
    venue: Venue,
    monkeypatch: Any,
    capsys: Any,
) -> tuple[str, list[dict[str, Any]]]:
    """The live testnet bot: two forced entries, then the kill switch with --flatten."""
    bot = Bot(project, api_port, tmp_path / "testnet.log", keys)
    try:
        bot.wait("the bot to run", lambda: bot.api("GET", "show_config")["state"] == "running")
        assert bot.api("GET", "show_config")["dry_run"] is False
        bot.wait("its whitelist", lambda: len(bot.api("GET", "whitelist")["whitelist"]) == 2)
        # a first round trip (the testnet evidence needs a handful of fills): in at market,
        # its stop-loss placed on the venue, out at market
        bot.api("POST", "forceenter", {"pair": "BTC/USDT", "side": "long", "ordertype": "market"})
        bot.wait(
            "the first stop-loss on the venue",
            lambda: any(o["type"] == "STOP_LOSS_LIMIT" for o in venue.state()["open_orders"]),
        )
        (first,) = bot.api("GET", "status")
        bot.api("POST", "forceexit", {"tradeid": str(first["trade_id"]), "ordertype": "market"})
        bot.wait("the first round trip closed", lambda: bot.api("GET", "status") == [])
        bot.wait("nothing open on the venue", lambda: venue.state()["open_orders"] == [])
        bot.api("POST", "forceenter", {"pair": "BTC/USDT", "side": "long", "ordertype": "market"})
        far_below = {"pair": "ETH/USDT", "side": "long", "ordertype": "limit", "price": 100.0}
        bot.api("POST", "forceenter", far_below)
        bot.wait("two open trades", lambda: len(bot.api("GET", "status")) == 2)
        # the orders are the venue's: the BTC buy filled there (and its stop-loss rests
        # there), the ETH buy rests in its book
        bot.wait(
            "the BTC stop-loss on the venue",
            lambda: any(o["type"] == "STOP_LOSS_LIMIT" for o in venue.state()["open_orders"]),
        )
        before = venue.state()
        resting = {(o["symbol"], o["side"], o["type"]) for o in before["open_orders"]}
        assert resting == {("ETHUSDT", "BUY", "LIMIT"), ("BTCUSDT", "SELL", "STOP_LOSS_LIMIT")}
        btc = before["spot_balances"]["BTC"]
        assert btc["free"] + btc["locked"] > 0

        monkeypatch.setenv("FREQTRADE__API_SERVER__USERNAME", USER)
        monkeypatch.setenv("FREQTRADE__API_SERVER__PASSWORD", PASSWORD)
        capsys.readouterr()
        assert run_cli("kill", "STR-001", "--flatten", "--root", str(project)) == 0
        out = capsys.readouterr().out
        assert "stop new entries: ok" in out
        assert "cancel open order of trade 3 (ETH/USDT): ok" in out
        assert "exit every position (market): ok" in out
        bot.wait("all positions closed", lambda: bot.api("GET", "status") == [])
        assert bot.api("GET", "show_config")["state"] == "paused"
        trades = bot.api("GET", "trades")["trades"]
    finally:
        log = bot.stop()
    return log, trades


def test_generated_configs_run_in_freqtrade_and_the_kill_switch_works(
    project, tmp_path, monkeypatch, capsys
):
    if not any(DATADIR.glob("*-5m.feather")):
        pytest.skip("no candles in user_data/data/binance")
    api_port, venue_port = free_port(), free_port()
    local_url = f"http://127.0.0.1:{venue_port}"
    local = ("--exchange", "local", "--local-url", local_url, "--api-port", str(api_port))
    assert deploy(project, "testnet", *local) == 0
    config = json.loads((project / DEPLOYMENT / "config.json").read_text())
    assert config["dry_run"] is False and not {"key", "secret"} & set(config["exchange"])
    capital = config["available_capital"]

    # a throwaway pair, in memory and in the two child environments only (as from one .env)
    keys = {var: secrets.token_hex(32) for var in KEY_VARS}
    venue = Venue(project, keys, tmp_path / "venue.log")
    try:
        log, trades = run_testnet_bot(project, api_port, tmp_path, keys, venue, monkeypatch, capsys)
        after, fills = venue.state(), venue.fills()
    finally:
        venue_log = venue.stop()
    # the bot recorded its own run session (the evidence the paper stage reads)
    testnet = _sessions(project / "user_data/STR-001.testnet.sqlite")
    assert [(r.stage, r.dry_run, r.stopped_at is not None) for r in testnet] == [
        ("testnet", False, True)
    ]
    assert "Dry run is enabled" not in log and "ExecutionCostFilter" in log and errors(log) == []
    assert "trading enabled (API key from FREQTRADE__EXCHANGE__KEY/" in venue_log

    # the venue's own record: nothing left open, the round trip filled there, and the bot's
    # order ids are the venue's
    assert after["open_orders"] == [] and after["positions"] == {}
    # two BTC round trips (buy, its stop-loss, sell) and the cancelled ETH buy
    assert after["orders"] == 7
    btc = [t for t in trades if t["pair"] == "BTC/USDT"]
    assert len(btc) == 2
    filled = [o for t in btc for o in t["orders"] if o["filled"]]
    bot_ids = {side: {o["order_id"] for o in filled if o["ft_order_side"] == side}
               for side in ("buy", "sell")}  # fmt: skip
    assert venue_order_ids(fills, "BUY", "BTCUSDT") == bot_ids["buy"]
    assert venue_order_ids(fills, "SELL", "BTCUSDT") == bot_ids["sell"]
    assert not [f for f in fills if f["symbol"] != "BTCUSDT"]  # the ETH order never filled
    bought = sum(f["qty"] for f in fills if f["side"] == "BUY")
    sold = sum(f["qty"] for f in fills if f["side"] == "SELL")
    # the buy's commission is paid in BTC: the bot sold what it received, to the lot step
    assert sold == pytest.approx(sum(t["amount"] for t in btc))
    assert 0 <= bought * (1 - 0.001) - sold < 2e-5
    usdt = after["spot_balances"]["USDT"]
    assert usdt["locked"] == 0 and 0.98 * capital < usdt["free"] < capital  # fees and spread
    print(
        f"\nvenue: {after['orders']} orders, {len(fills)} fills "
        f"(BTC bought {bought:.5f}, sold {sold:.5f})"
        f", USDT {capital:g} -> {usdt['free']:.4f}, {after['requests']} requests, "
        f"rate-limit answers {after['rate_limit']['answers'] or 'none'}"
    )

    # the key pair was never written anywhere: not in the deployment, the database, the
    # bot's log files, or the venue's output
    for value in keys.values():
        assert value not in log and value not in venue_log
        for path in project.rglob("*"):
            if path.is_file():
                assert value.encode() not in path.read_bytes(), path

    # the testnet database is the evidence the paper stage needs
    assert deploy(project, "paper", *local) == 0
    checklist = (project / DEPLOYMENT / "deployment-checklist.md").read_text()
    line = next(x for x in checklist.splitlines() if "Testnet dry-run successful" in x)
    assert re.fullmatch(
        r"- \[x\] Testnet dry-run successful: 1 run session on the test environment, 4 filled "
        r"orders, 0 rejected, 2 closed trades, [2-9] stop-loss orders on the exchange, (\d+) "
        r"orders matched to the order journal, 0 failed checks "
        r"\(user_data/STR-001\.testnet\.sqlite\)",
        line,
    ), line

    # paper: Freqtrade's dry-run on the venue's market data, no exchange keys at all
    paper_venue = Venue(project, {}, tmp_path / "venue-paper.log")
    paper = Bot(project, api_port, tmp_path / "paper.log")
    try:
        paper.wait("the REST API", lambda: paper.api("GET", "ping").get("status") == "pong")
        paper.wait(
            "a few bot loops",
            lambda: (
                # the worker logs this on its first loop (the API answers before it)
                "Changing state to: RUNNING" in paper.log.read_text()
                and paper.log.read_text().count("exec_ext") > 0
                and paper.api("GET", "show_config")["dry_run"] is True
                and paper.api("GET", "whitelist")["whitelist"] == ["BTC/USDT", "ETH/USDT"]
            ),
        )
        paper.wait(
            "its run session",
            lambda: bool(_sessions(project / "user_data/STR-001.paper.sqlite")),
        )
        assert paper.proc.poll() is None
    finally:
        log = paper.stop()
        paper_log = paper_venue.stop()
    (paper_run,) = _sessions(project / "user_data/STR-001.paper.sqlite")
    assert (paper_run.stage, paper_run.dry_run) == ("paper", True)
    assert "Changing state to: RUNNING" in log and errors(log) == []
    assert "trading disabled" in paper_log
    assert (project / "user_data/STR-001.paper.sqlite").is_file()
    assert (project / "user_data/logs/STR-001.paper.log").is_file()
    assert run_cli("validate", str(project / DEPLOYMENT)) == 0

    # the real dry-run database is not testnet evidence (the copied database)
    testnet_db = project / "user_data/STR-001.testnet.sqlite"
    testnet_db.rename(tmp_path / "testnet.sqlite")
    shutil.copy(project / "user_data/STR-001.paper.sqlite", testnet_db)
    capsys.readouterr()
    assert deploy(project, "paper", *local) == 2
    assert (
        "  - testnet evidence: user_data/STR-001.testnet.sqlite: only dry-run sessions (1): "
        "testnet evidence is a run with dry_run false on Binance Spot Test Network "
        "(testnet.binance.vision) or the local exchange; a paper or dry-run database does not "
        "count"
    ) in capsys.readouterr().err.splitlines()
