"""One bot per database (store/bot_identity.py) on a real SQLite file, clocks injected."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from freqtrade_exec_ext.store.bot_identity import (
    STALE_AFTER,
    BotIdentities,
    BotIdentity,
    is_gone,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _me(host: str = "host-a", pid: int = 100, token: str = "a" * 32) -> BotIdentity:
    return BotIdentity(token, host, pid, "STR001", "c" * 64, T0, T0)


def _db(path: Path, alive: bool = True) -> BotIdentities:
    return BotIdentities(create_engine(f"sqlite:///{path}"), alive=lambda pid: alive)


def test_a_second_live_bot_is_refused_and_named(tmp_path) -> None:
    db = tmp_path / "tradesv3.sqlite"
    first, second = _me(), _me(host="host-b", token="b" * 32)
    assert _db(db).claim(first, T0).ok
    claim = _db(db).claim(second, T0 + timedelta(seconds=30))
    assert not claim.ok and claim.other is not None and claim.other.token == first.token
    assert claim.other.describe(T0 + timedelta(seconds=30)) == (
        "STR001 on host-a pid 100, started 2026-03-01 12:00:00 UTC, config sha256 "
        "cccccccccccc, last heartbeat 30 s ago"
    )
    assert _db(db).current().token == first.token  # the refused bot changed nothing


def test_heartbeats_keep_the_claim_and_a_stale_one_is_taken_over(tmp_path) -> None:
    db = tmp_path / "tradesv3.sqlite"
    first, second = _me(), _me(host="host-b", token="b" * 32)
    store = _db(db)
    assert store.claim(first, T0).ok
    later = T0 + STALE_AFTER + timedelta(seconds=60)
    assert store.heartbeat(first.token, later - timedelta(seconds=10))  # still alive
    assert not _db(db).claim(second, later).ok
    # it stops renewing: once its heartbeat is older than STALE_AFTER, it is gone
    gone = later + STALE_AFTER
    claim = _db(db).claim(second, gone)
    assert claim.ok and claim.other is not None and claim.other.token == first.token
    # the old bot, waking up, learns it lost the database
    assert not store.heartbeat(first.token, gone)
    assert store.heartbeat(second.token, gone)


def test_a_killed_bot_on_this_host_is_taken_over_at_once(tmp_path) -> None:
    db = tmp_path / "tradesv3.sqlite"
    dead, restarted = _me(pid=100), _me(pid=200, token="b" * 32)
    assert _db(db).claim(dead, T0).ok
    soon = T0 + timedelta(seconds=5)
    assert not _db(db, alive=True).claim(restarted, soon).ok  # pid 100 still runs
    claim = _db(db, alive=False).claim(restarted, soon)  # pid 100 is gone (kill -9)
    assert claim.ok and claim.other is not None and claim.other.pid == 100


def test_a_clean_stop_releases_the_database(tmp_path) -> None:
    db = tmp_path / "tradesv3.sqlite"
    first, second = _me(), _me(host="host-b", token="b" * 32)
    store = _db(db)
    assert store.claim(first, T0).ok
    store.release(second.token)  # not its row: nothing happens
    assert store.current() is not None
    store.release(first.token)
    assert store.current() is None
    claim = _db(db).claim(second, T0 + timedelta(seconds=1))
    assert claim.ok and claim.other is None


def test_claiming_again_is_idempotent_and_only_one_of_two_racing_bots_wins(tmp_path) -> None:
    db = tmp_path / "tradesv3.sqlite"
    stale = _me(host="host-z", token="z" * 32)
    assert _db(db).claim(stale, T0).ok
    assert _db(db).claim(stale, T0 + timedelta(seconds=1)) .ok  # its own row
    later = T0 + STALE_AFTER * 3
    a, b = _me(host="host-a", token="a" * 32), _me(host="host-b", token="b" * 32)
    store_a, store_b = _db(db), _db(db)
    # both read the stale row; the compare-and-swap lets only the first write win
    assert store_a._swap(stale.token, replace(a, heartbeat_at=later))
    assert not store_b._swap(stale.token, replace(b, heartbeat_at=later))
    assert not store_b.claim(b, later).ok  # and then b sees a's fresh heartbeat


@pytest.mark.parametrize(
    ("other", "age_s", "alive", "gone"),
    [
        (_me(host="host-b"), 10, True, False),  # another host: only the heartbeat tells
        (_me(host="host-b"), STALE_AFTER.total_seconds() + 1, True, True),
        (_me(pid=100), 10, True, False),  # this host, a process that runs
        (_me(pid=100), 10, False, True),  # this host, a process that is gone
        (_me(pid=200), 10, True, True),  # this very pid: a previous life of this process
    ],
)
def test_is_gone(other, age_s, alive, gone) -> None:
    me = _me(pid=200, token="b" * 32)
    other = replace(other, heartbeat_at=T0)
    now = T0 + timedelta(seconds=age_s)
    assert is_gone(other, now, me, alive=lambda pid: alive) is gone
