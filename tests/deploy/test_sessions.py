"""Run sessions (store/sessions.py) in a real Freqtrade database: the API the strategy
calls, with the caller's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, inspect

from freqtrade_exec_ext.store import sessions as S

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def info(**kw) -> S.SessionInfo:
    base: dict = {
        "strategy_id": "STR-001", "stage": "paper", "exchange": "binance",
        "api_host": "api.binance.com", "simulated": False, "dry_run": True,
        "contract_sha256": "a" * 64, "config_sha256": "b" * 64, "bot_name": "STR-001 paper",
        "strategy": "STR001",
    }  # fmt: skip
    base.update(kw)
    return S.SessionInfo(**base)


@pytest.fixture
def engine(tmp_path):
    """Freqtrade's own database file, as init_db leaves it."""
    from freqtrade.persistence import Trade, init_db

    url = f"sqlite:///{tmp_path / 'tradesv3.sqlite'}"
    init_db(url)
    Trade.session.remove()
    eng = create_engine(url)
    yield eng
    eng.dispose()


def read(engine):
    with engine.connect() as conn:
        return S.read_sessions(conn)


def test_the_table_is_created_on_first_use_beside_freqtrades(engine):
    assert read(engine) is None  # never recorded: the evidence checks say so
    S.SessionRecorder(engine)
    names = set(inspect(engine).get_table_names())
    assert {"exec_ext_run_sessions", "trades", "orders"} <= names
    assert read(engine) == []


def test_start_heartbeat_stop(engine):
    rec = S.SessionRecorder(engine)
    sid = rec.start(info(), T0)
    assert rec.heartbeat(T0 + timedelta(seconds=30)) is False  # at most once a minute
    assert rec.heartbeat(T0 + timedelta(seconds=60)) is True
    assert rec.heartbeat(T0 + timedelta(seconds=90)) is False
    assert rec.heartbeat(T0 + timedelta(seconds=125)) is True
    rec.stop(T0 + timedelta(seconds=150))
    (s,) = read(engine)
    assert s.id == sid and s.previous_id is None
    assert (s.started_at, s.last_heartbeat_at, s.stopped_at) == (
        T0, T0 + timedelta(seconds=150), T0 + timedelta(seconds=150)
    )
    assert s.heartbeats == 3 and s.ended == "stop"
    assert (s.stage, s.dry_run, s.contract_sha256, s.bot_name) == (
        "paper", True, "a" * 64, "STR-001 paper"
    )
    assert rec.heartbeat(T0 + timedelta(minutes=10)) is False  # stopped


def test_a_silence_over_five_minutes_ends_the_session_at_its_last_heartbeat(engine):
    rec = S.SessionRecorder(engine)
    first = rec.start(info(), T0)
    rec.heartbeat(T0 + timedelta(minutes=1))
    assert rec.heartbeat(T0 + timedelta(hours=3)) is True  # the machine slept
    assert rec.session_id != first
    rec.heartbeat(T0 + timedelta(hours=3, minutes=1))
    a, b = read(engine)
    assert (a.last_heartbeat_at, a.ended, a.stopped_at) == (T0 + timedelta(minutes=1), "gap", None)
    assert (b.previous_id, b.started_at) == (a.id, T0 + timedelta(hours=3))
    assert b.last_heartbeat_at == T0 + timedelta(hours=3, minutes=1) and b.ended is None


def test_a_crash_leaves_the_last_heartbeat(engine):
    rec = S.SessionRecorder(engine)
    rec.start(info(), T0)
    rec.heartbeat(T0 + timedelta(minutes=2))
    del rec  # killed: no stop
    (s,) = read(engine)
    assert s.stopped_at is None and s.last_heartbeat_at == T0 + timedelta(minutes=2)


def test_a_late_stop_does_not_stretch_the_session(engine):
    rec = S.SessionRecorder(engine)
    rec.start(info(), T0)
    rec.stop(T0 + timedelta(hours=2))  # frozen for two hours, then stopped
    (s,) = read(engine)
    assert s.last_heartbeat_at == T0 and s.stopped_at == T0 + timedelta(hours=2)


def test_times_must_be_aware_and_identity_checked(engine):
    rec = S.SessionRecorder(engine)
    with pytest.raises(ValueError, match="aware"):
        rec.start(info(), datetime(2026, 2, 1, 12, 0))
    with pytest.raises(ValueError, match="contract_sha256"):
        rec.start(info(contract_sha256="abc"), T0)
    with pytest.raises(ValueError, match="stage"):
        rec.start(info(stage="prod"), T0)


def test_the_module_reads_no_clock(engine, monkeypatch):
    class NoClock(datetime):
        @classmethod
        def now(cls, tz=None):
            raise AssertionError("read the wall clock")

        @classmethod
        def utcnow(cls):
            raise AssertionError("read the wall clock")

    monkeypatch.setattr(S, "datetime", NoClock)
    rec = S.SessionRecorder(engine)
    rec.start(info(), T0)
    rec.heartbeat(T0 + timedelta(minutes=1))
    rec.stop(T0 + timedelta(minutes=2))
    assert len(read(engine)) == 1


@pytest.mark.parametrize(
    ("exchange", "mode", "hosts", "simulated"),
    [
        ("binance", "spot", {"testnet.binance.vision", "127.0.0.1:9"}, False),
        ("binance", "futures", {"demo-fapi.binance.com", "demo-api.binance.com", "127.0.0.1:9"},
         False),
        ("bybit", "spot", {"api-demo.bybit.com"}, True),
        ("okx", "spot", {"www.okx.com"}, True),
    ],
)  # fmt: skip
def test_endpoint_of_the_client_freqtrade_builds_from_a_testnet_config(
    exchange, mode, hosts, simulated
):
    from freqtrade_exec_ext.deploy.testnets import TESTNETS, client_from_config

    fragment = TESTNETS[(exchange, mode)].exchange_fragment()
    client = client_from_config({"name": exchange, **fragment})
    got, sim = S.endpoint_of(client)
    assert set(got.split(",")) == hosts and sim is simulated


def test_endpoint_of_a_production_client():
    import ccxt

    assert S.endpoint_of(ccxt.okx()) == ("www.okx.com", False)
