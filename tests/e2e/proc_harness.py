"""Real ``freqtrade trade`` processes (LIVE, ``dry_run: false``) against the local exchange.

For what the in-process harness cannot do: a bot process that is really ``kill -9``'d
(the order guard's test-only crash point, ``FREQTRADE_EXEC_EXT_TEST_KILL_AT``, kills it at
an exact order step), and two bot processes on one database.  The venue runs in this test
process on the wall clock (so the test reads its books directly); each bot is a
subprocess driven through Freqtrade's REST API.  The throwaway key pair lives in memory
and the bots' environments only.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from support import free_port

from freqtrade_exec_ext.localex import freqtrade_exchange_config
from freqtrade_exec_ext.localex.intracandle import LINEAR
from freqtrade_exec_ext.localex.server import LocalExchange
from freqtrade_exec_ext.order_guard import CRASH_ENV
from freqtrade_exec_ext.store.journal import Intent, OrderJournal

from .live_harness import CONTRACT, DATADIR

FREQTRADE = Path(sys.executable).with_name("freqtrade")
STRATEGIES = Path(__file__).resolve().parent / "strategies"
USER, PASSWORD = "guard", "guard-e2e-password"
#: a calm hour of the shipped BTC/USDT candles: the venue replays from here
REPLAY_FROM = datetime(2025, 10, 16, 9, 40, tzinfo=UTC)
WAIT_S = 180.0  # generous: the machine is shared


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT_S, log: Any = None) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            result = check()
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            result = None
        if result:
            return result
        time.sleep(0.25)
    tail = log() if log else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


class Venue:
    def __init__(self) -> None:
        self.key, self.secret = secrets.token_hex(32), secrets.token_hex(32)
        self.ex = LocalExchange(
            DATADIR,
            start_at=REPLAY_FROM,
            api_keys={self.key: self.secret},
            spot_balances={"USDT": 1000.0},
            path_model=LINEAR,
        ).start()

    @property
    def engine(self) -> Any:
        return self.ex.engine

    def orders(self, symbol: str = "BTCUSDT") -> list[Any]:
        return sorted(
            (o for o in self.ex.engine.orders.values() if o.symbol == symbol),
            key=lambda o: o.order_id,
        )

    def open_stops(self) -> list[Any]:
        return [o for o in self.orders() if o.type == "STOP_LOSS_LIMIT" and o.is_open]

    def stop(self) -> None:
        self.ex.stop()


class Bot:
    """One ``freqtrade trade`` process; ``db`` may be shared with another bot."""

    def __init__(
        self, venue: Venue, tmp: Path, name: str, db: Path, *, crash_at: str | None = None
    ) -> None:
        self.venue, self.db, self.name = venue, db, name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{name}.log"
        config = self._config(tmp / f"{name}.json", tmp / "user_data")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FREQTRADE") and k != "PYTEST_VERSION"
        }  # (Freqtrade skips its logging setup under pytest)
        env.update(
            FREQTRADE__EXCHANGE__KEY=venue.key,
            FREQTRADE__EXCHANGE__SECRET=venue.secret,
        )
        if crash_at:
            env[CRASH_ENV] = crash_at
        self.proc = subprocess.Popen(
            [str(FREQTRADE), "trade", "-c", str(config), "--logfile", str(self.log)],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / f"{name}.stderr").open("w"),
        )
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def _config(self, path: Path, user_data: Path) -> Path:
        exchange = freqtrade_exchange_config(self.venue.ex.base_url)
        exchange["pair_whitelist"] = ["BTC/USDT", "ETH/USDT"]
        user_data.mkdir(exist_ok=True)
        cfg = {
            "strategy": "XGQuiet",
            "strategy_path": str(STRATEGIES),
            "user_data_dir": str(user_data),
            "stake_currency": "USDT",
            "stake_amount": "unlimited",
            "dry_run": False,
            "timeframe": "5m",
            "exchange": exchange,
            "pairlists": [{"method": "StaticPairList"}],
            "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
            "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
            "db_url": f"sqlite:///{self.db}",
            "initial_state": "running",
            "force_entry_enable": True,
            "internals": {"process_throttle_secs": 1},
            "api_server": {
                "enabled": True,
                "listen_ip_address": "127.0.0.1",
                "listen_port": self.port,
                "username": USER,
                "password": PASSWORD,
                "jwt_secret_key": secrets.token_hex(32),
            },
            "exec_ext": {"risk_contract": str(CONTRACT)},
        }
        path.write_text(json.dumps(cfg, indent=1))
        return path

    # ---------------------------------------------------------------- process
    def log_text(self) -> str:
        return self.log.read_text() if self.log.is_file() else ""

    def tail(self) -> str:
        return "\n".join(self.log_text().splitlines()[-40:])

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(
            f"{self.url}/api/v1/{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers=self.auth,
            method=method,
        )
        with urllib.request.urlopen(req, timeout=15) as resp:
            return json.loads(resp.read())

    def wait(self, what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
        def alive_check() -> Any:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
            return check()

        return wait_for(f"{self.name}: {what}", alive_check, timeout, self.tail)

    def wait_running(self) -> None:
        self.wait("its REST API", lambda: self.api("GET", "show_config")["state"] == "running")
        self.wait("its first bot loop", lambda: "exec_ext: order guard on" in self.log_text())

    def wait_killed(self, timeout: float = WAIT_S) -> int:
        """The crash point fired: the process died of SIGKILL."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not die:\n{self.tail()}") from None
        assert code == -signal.SIGKILL, f"{self.name} exited {code}:\n{self.tail()}"
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


class Database:
    """The bots' SQLite file, read with plain SQL (the bots keep running)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, sql: str) -> list[Any]:
        engine = create_engine(f"sqlite:///{self.path}")
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql)).mappings())
        finally:
            engine.dispose()

    def order_ids(self) -> set[str]:
        from freqtrade_exec_ext.compat.schema import tables

        return {str(r["order_id"]) for r in self._rows(f"SELECT order_id FROM {tables().orders}")}

    def trades(self) -> list[Any]:
        from freqtrade_exec_ext.compat.schema import tables

        return self._rows(f"SELECT id, pair, is_open, amount FROM {tables().trades}")

    def open_trades_btc(self) -> float:
        return float(sum(t["amount"] for t in self.trades() if t["is_open"]))

    def journal(self) -> list[Intent]:
        engine = create_engine(f"sqlite:///{self.path}")
        try:
            return OrderJournal(engine, "STR-001").all()
        finally:
            engine.dispose()
