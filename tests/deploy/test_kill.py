"""``freqtrade-exec kill``: the calls it makes, against a stub of Freqtrade's REST API on
127.0.0.1 that records them (only the network edge is replaced; the real bot is driven in
test_freqtrade_run.py).  It acts only on the stage's bot of the strategy."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from deploytools import deploy, run_cli
from support import free_port

USER, PASSWORD = "ops", "correct horse battery"


class StubBot:
    def __init__(self, strategy: str = "STR001", bot_name: str = "STR-001 live") -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.strategy = strategy
        self.bot_name = bot_name
        self.dry_run = False
        self.trades = [
            {"trade_id": 1, "pair": "BTC/USDT", "has_open_orders": False},
            {"trade_id": 2, "pair": "ETH/USDT", "has_open_orders": True},
        ]
        self.fail: set[str] = set()

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.calls.append((method, path, body))
        if path in self.fail:
            return 500, {"error": "boom"}
        if path == "/api/v1/show_config":
            return 200, {"strategy": self.strategy, "bot_name": self.bot_name,
                         "dry_run": self.dry_run, "state": "running"}  # fmt: skip
        if path == "/api/v1/stopentry":
            return 200, {"status": "paused, no more entries will occur from now."}
        if path == "/api/v1/status":
            return 200, self.trades
        if path.startswith("/api/v1/trades/") and path.endswith("/open-order"):
            tid = int(path.split("/")[4])
            for t in self.trades:
                if t["trade_id"] == tid:
                    t["has_open_orders"] = False
            return 200, {"trade_id": tid}
        if path == "/api/v1/forceexit":
            self.trades = []
            return 200, {"result": "Created exit orders for all open trades."}
        return 404, {"detail": "Not Found"}


@pytest.fixture
def bot() -> Iterator[tuple[StubBot, str]]:
    stub = StubBot()
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            if self.headers.get("Authorization") != expected:
                code, payload = 401, {"detail": "Unauthorized"}
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                code, payload = stub.answer(self.command, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def creds(monkeypatch) -> None:
    monkeypatch.setenv("FREQTRADE__API_SERVER__USERNAME", USER)
    monkeypatch.setenv("FREQTRADE__API_SERVER__PASSWORD", PASSWORD)


def paths(stub: StubBot) -> list[str]:
    return [f"{m} {p}" for m, p, _ in stub.calls]


def test_kill_stops_entries_and_cancels_open_orders_but_keeps_positions(bot, creds, capsys):
    stub, url = bot
    assert run_cli("kill", "STR-001", "--stage", "live", "--url", url) == 0
    assert paths(stub) == [
        "GET /api/v1/show_config",
        "POST /api/v1/stopentry",
        "GET /api/v1/status",
        "DELETE /api/v1/trades/2/open-order",
        "GET /api/v1/status",
    ]
    out = capsys.readouterr().out
    assert "cancel open order of trade 2 (ETH/USDT): ok" in out
    assert "now: 2 open trades (positions still held), 0 with open orders" in out


def test_flatten_also_exits_every_position_at_market(bot, creds, capsys):
    stub, url = bot
    assert run_cli("kill", "STR-001", "--stage", "live", "--url", url, "--flatten") == 0
    assert ("POST", "/api/v1/forceexit", {"tradeid": "all", "ordertype": "market"}) in stub.calls
    assert paths(stub).index("POST /api/v1/stopentry") < paths(stub).index("POST /api/v1/forceexit")
    assert "now: 0 open trades (exits placed)" in capsys.readouterr().out


def test_a_bot_running_another_strategy_is_left_alone(bot, creds, capsys):
    stub, url = bot
    stub.strategy = "STR002"
    assert run_cli("kill", "STR-001", "--stage", "live", "--url", url, "--flatten") == 1
    assert paths(stub) == ["GET /api/v1/show_config"]
    out = capsys.readouterr()
    assert "(strategy 'STR002', not 'STR001'); nothing was done" in out.err
    assert "bot identity: ok" not in out.out


@pytest.mark.parametrize(("running", "dry_run"), [("STR-001 paper", True),
                                                  ("STR-001 testnet", False)])  # fmt: skip
def test_a_bot_of_another_stage_is_left_alone(bot, creds, capsys, running, dry_run):
    stub, url = bot
    stub.bot_name, stub.dry_run = running, dry_run
    assert run_cli("kill", "STR-001", "--stage", "live", "--url", url, "--flatten") == 1
    assert paths(stub) == ["GET /api/v1/show_config"]
    err = capsys.readouterr().err
    assert f"is not the expected bot (bot_name '{running}', not 'STR-001 live'" in err
    assert "nothing was done (pass the right --stage or --url)" in err


def test_kill_finds_the_deployed_stages_bot(bot, creds, capsys, project):
    stub, url = bot
    port = url.rsplit(":", 1)[1]
    assert deploy(project, "testnet", "--api-port", port) == 0
    stub.bot_name = "STR-001 testnet"
    capsys.readouterr()
    assert run_cli("kill", "STR-001", "--root", str(project)) == 0
    assert f"kill switch for STR-001 (STR-001 testnet) at {url}:" in capsys.readouterr().out
    assert paths(stub)[:2] == ["GET /api/v1/show_config", "POST /api/v1/stopentry"]
    # the paper bot's address is not in this deployment: say so rather than guess
    stub.calls.clear()
    assert run_cli("kill", "STR-001", "--stage", "paper", "--root", str(project)) == 2
    assert "holds the testnet stage, so the paper bot's address is unknown: pass --url" in (
        capsys.readouterr().err
    )
    assert stub.calls == []


def test_a_password_in_the_url_is_never_printed(creds, capsys):
    secret = "Sup3r-S3cret-kill-pw"
    for url in (f"http://ops:{secret}@127.0.0.1:8080", f"http://ops:{secret}@10.0.0.5:8080"):
        assert run_cli("kill", "STR-001", "--stage", "live", "--url", url) == 2
        out = capsys.readouterr()
        assert secret not in out.out + out.err
        assert "http://ops:***@" in out.err
        assert "credentials in the URL are not used" in out.err


def test_every_step_is_tried_and_each_failure_reported(bot, creds, capsys):
    stub, url = bot
    stub.fail = {"/api/v1/stopentry"}
    assert run_cli("kill", "STR-001", "--stage", "live", "--url", url, "--flatten") == 1
    assert "POST /api/v1/forceexit" in paths(stub)
    assert "FAILED stop new entries: POST /api/v1/stopentry: HTTP 500" in capsys.readouterr().err


def test_wrong_credentials_are_reported(bot, monkeypatch, capsys):
    _, url = bot
    monkeypatch.setenv("FREQTRADE__API_SERVER__USERNAME", USER)
    monkeypatch.setenv("FREQTRADE__API_SERVER__PASSWORD", "wrong")
    assert run_cli("kill", "STR-001", "--stage", "live", "--url", url) == 1
    assert "HTTP 401" in capsys.readouterr().err


def test_credentials_come_from_the_environment_only(monkeypatch, capsys):
    monkeypatch.delenv("FREQTRADE__API_SERVER__USERNAME", raising=False)
    monkeypatch.delenv("FREQTRADE__API_SERVER__PASSWORD", raising=False)
    assert run_cli("kill", "STR-001", "--stage", "live") == 2
    assert "set FREQTRADE__API_SERVER__USERNAME and FREQTRADE__API_SERVER__PASSWORD" in (
        capsys.readouterr().err
    )


def test_password_is_never_sent_in_clear_to_another_host(creds, capsys):
    assert run_cli("kill", "STR-001", "--stage", "live", "--url", "http://10.0.0.5:8080") == 2
    assert "would send the API password unencrypted" in capsys.readouterr().err


def test_an_unreachable_bot_is_a_failure_not_a_traceback(creds, capsys):
    port = free_port()
    assert run_cli("kill", "STR-001", "--stage", "live", "--url", f"http://127.0.0.1:{port}") == 1
    err = capsys.readouterr().err
    assert "FAILED bot identity: GET /api/v1/show_config:" in err
    assert "Traceback" not in err
