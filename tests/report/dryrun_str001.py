"""A real ``freqtrade trade --dry-run`` of STR001 against the local exchange, for a bounded time.

The local exchange replays the repo's candles (from 2025-10-01 18:05 UTC).  STR001 runs with
its own signals; so that the run has fills in bounded time whatever the market does, an
operator enters BTC/USDT and ETH/USDT through Freqtrade's REST API (``/forceenter`` with a
market order: it walks the served book and fills at once), then exits every filled trade
with a market order (``/forceexit``), cancels entries still open
(``DELETE /trades/<id>/open-order``) and stops the bot.  Everything is Freqtrade's own code:
the bot, its dry-run fills, its database; the STR001 mixin writes the execution ledger into
``trade_custom_data``, and Freqtrade places (and cancels) its stop-loss orders on exchange.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATADIR = REPO / "user_data" / "data" / "binance"
CONTRACT = REPO / ".crypto" / "knowledge" / "strategies" / "STR-001" / "risk-assessment.yaml"
START_AT = datetime(2025, 10, 1, 18, 5, 2, tzinfo=UTC)
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
FORCE_PAIRS = ("BTC/USDT", "ETH/USDT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1/"
        self.auth = "Basic " + base64.b64encode(b"report:report").decode()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        req = urllib.request.Request(
            self.base + path, method=method,
            headers={"Authorization": self.auth, "Content-Type": "application/json"},
            data=json.dumps(body).encode() if body is not None else None)
        with self.opener.open(req, timeout=10) as r:
            return json.loads(r.read())


def run(tmp: Path) -> tuple[Path, str]:
    """Run the bot; returns (database path, bot log text)."""
    from freqtrade_exec_ext.localex import freqtrade_exchange_config
    from freqtrade_exec_ext.localex.server import LocalExchange

    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "tradesv3.dryrun.sqlite"
    port = _free_port()
    with LocalExchange(DATADIR, start_at=START_AT) as ex:
        exchange = freqtrade_exchange_config(ex.base_url)
        exchange["pair_whitelist"] = PAIRS
        cfg = {
            "strategy": "STR001", "strategy_path": str(REPO / "user_data" / "strategies"),
            "user_data_dir": str(tmp / "user_data"), "stake_currency": "USDT",
            "stake_amount": "unlimited", "dry_run": True, "dry_run_wallet": 1000,
            "timeframe": "5m", "exchange": exchange,
            "pairlists": [{"method": "StaticPairList"}],
            "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
            "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
            "db_url": f"sqlite:///{db}", "initial_state": "running",
            "force_entry_enable": True,
            "internals": {"process_throttle_secs": 1},
            "api_server": {"enabled": True, "listen_ip_address": "127.0.0.1",
                           "listen_port": port, "username": "report", "password": "report",
                           "jwt_secret_key": "report-test-" + "k" * 32, "CORS_origins": []},
            "exec_ext": {"risk_contract": str(CONTRACT)},
        }
        (tmp / "user_data").mkdir(exist_ok=True)
        (tmp / "config.json").write_text(json.dumps(cfg, indent=1))
        log_path = tmp / "bot.log"
        api = _Api(port)
        with log_path.open("w") as log:
            bot = subprocess.Popen(
                [sys.executable, "-m", "freqtrade", "trade", "-c", str(tmp / "config.json")],
                stdout=log, stderr=subprocess.STDOUT)
            try:
                _drive(api, bot)
            finally:
                bot.send_signal(signal.SIGINT)
                try:
                    bot.wait(30)
                except subprocess.TimeoutExpired:
                    bot.kill()
                    bot.wait(10)
        return db, log_path.read_text(errors="replace")


def _status(api: _Api) -> list[dict[str, Any]] | None:
    try:
        return list(api("GET", "status"))
    except OSError:  # not listening yet (urllib's HTTPError is an OSError too)
        return None


def _try(api: _Api, method: str, path: str, body: Any = None) -> Any:
    try:
        return api(method, path, body)
    except OSError:
        return None


def _drive(api: _Api, bot: subprocess.Popen[bytes]) -> None:
    t0 = time.monotonic()

    def wait(pred: Any, limit: float) -> list[dict[str, Any]]:
        st: list[dict[str, Any]] = []
        while time.monotonic() - t0 < limit and bot.poll() is None:
            got = _status(api)
            if got is not None:
                st = got
                if pred(st):
                    break
            time.sleep(1)
        return st

    def filled(t: dict[str, Any]) -> bool:
        return float(t.get("amount") or 0) > 0 and not t["has_open_orders"]

    wait(lambda st: True, 60)  # the API answers once the bot runs
    # an operator's market force entries fill at once (taker), through the strategy's
    # sizing and confirmation callbacks
    for pair in FORCE_PAIRS:
        _try(api, "POST", "forceenter", {"pair": pair, "side": "long", "ordertype": "market"})
    wait(lambda st: len([t for t in st if filled(t)]) >= len(FORCE_PAIRS), 60)
    time.sleep(2)
    for t in _status(api) or []:  # exit what filled (market), cancel entries still open
        if filled(t):
            _try(api, "POST", "forceexit", {"tradeid": str(t["trade_id"]),
                                            "ordertype": "market"})
        elif t["has_open_orders"]:
            _try(api, "DELETE", f"trades/{t['trade_id']}/open-order")
    wait(lambda st: not st, 90)


if __name__ == "__main__":
    path, _ = run(Path(sys.argv[1]))
    print(path)
