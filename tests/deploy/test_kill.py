"""``freqtrade-exec kill``: the calls it makes, against a stub of Freqtrade's REST API on
127.0.0.1 that records them (only the network edge is replaced; the real bot is driven in
test_freqtrade_run.py)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from deploytools import run_cli

USER, PASSWORD = "ops", "correct horse battery"


class StubBot:
    def __init__(self, strategy: str = "STR001") -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.strategy = strategy
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
            return 200, {"strategy": self.strategy, "state": "running"}
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
    assert run_cli("kill", "STR-001", "--url", url) == 0
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
    assert run_cli("kill", "STR-001", "--url", url, "--flatten") == 0
    assert ("POST", "/api/v1/forceexit", {"tradeid": "all", "ordertype": "market"}) in stub.calls
    assert paths(stub).index("POST /api/v1/stopentry") < paths(stub).index("POST /api/v1/forceexit")
    assert "now: 0 open trades (exits placed)" in capsys.readouterr().out


def test_a_bot_running_another_strategy_is_left_alone(bot, creds, capsys):
    stub, url = bot
    stub.strategy = "STR002"
    assert run_cli("kill", "STR-001", "--url", url, "--flatten") == 1
    assert paths(stub) == ["GET /api/v1/show_config"]
    assert "runs strategy 'STR002', not 'STR001'; nothing was done" in capsys.readouterr().err


def test_every_step_is_tried_and_each_failure_reported(bot, creds, capsys):
    stub, url = bot
    stub.fail = {"/api/v1/stopentry"}
    assert run_cli("kill", "STR-001", "--url", url, "--flatten") == 1
    assert "POST /api/v1/forceexit" in paths(stub)
    assert "FAILED stop new entries: POST /api/v1/stopentry: HTTP 500" in capsys.readouterr().err


def test_wrong_credentials_are_reported(bot, monkeypatch, capsys):
    _, url = bot
    monkeypatch.setenv("FREQTRADE__API_SERVER__USERNAME", USER)
    monkeypatch.setenv("FREQTRADE__API_SERVER__PASSWORD", "wrong")
    assert run_cli("kill", "STR-001", "--url", url) == 1
    assert "HTTP 401" in capsys.readouterr().err


def test_credentials_come_from_the_environment_only(monkeypatch, capsys):
    monkeypatch.delenv("FREQTRADE__API_SERVER__USERNAME", raising=False)
    monkeypatch.delenv("FREQTRADE__API_SERVER__PASSWORD", raising=False)
    assert run_cli("kill", "STR-001") == 2
    assert "set FREQTRADE__API_SERVER__USERNAME and FREQTRADE__API_SERVER__PASSWORD" in (
        capsys.readouterr().err
    )


def test_password_is_never_sent_in_clear_to_another_host(creds, capsys):
    assert run_cli("kill", "STR-001", "--url", "http://10.0.0.5:8080") == 2
    assert "would send the API password unencrypted" in capsys.readouterr().err


def test_an_unreachable_bot_is_a_failure_not_a_traceback(creds, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert run_cli("kill", "STR-001", "--url", f"http://127.0.0.1:{port}") == 1
    err = capsys.readouterr().err
    assert "FAILED bot identity: GET /api/v1/show_config:" in err
    assert "Traceback" not in err
