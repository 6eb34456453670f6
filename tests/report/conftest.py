"""Fixtures of the report tests: Freqtrade databases built with Freqtrade's own models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_server import PgServer
from pg_server import pg_server as _pg_server
from report_helpers import build, sqlite_db


@pytest.fixture(scope="session")
def ledger_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sqlite_db(tmp_path_factory.mktemp("ledgerdb") / "tradesv3.dryrun.sqlite")


@pytest.fixture(scope="session")
def plain_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Written by Freqtrade without the mixin: no ledger records."""
    return sqlite_db(tmp_path_factory.mktemp("plaindb") / "tradesv3.sqlite", ledger=False)


@pytest.fixture(scope="session")
def str001_dry_run_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database written by a real ``freqtrade trade --dry-run`` of STR001 (see
    dryrun_str001.py)."""
    from dryrun_str001 import run

    db, log = run(tmp_path_factory.mktemp("dryrun"))
    assert db.is_file(), f"the dry-run bot wrote no database:\n{log[-3000:]}"
    return f"sqlite:///{db}"


@pytest.fixture(scope="session")
def str001_backtest(tmp_path_factory: pytest.TempPathFactory):
    """``freqtrade backtesting`` of STR001 (real CLI, markets from the local exchange)."""
    from backtest_str001 import run

    return run(tmp_path_factory.mktemp("backtest"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the session (skips when none can be started)."""
    yield from _pg_server()


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """The hand-checked Freqtrade database (report_helpers.build) in PostgreSQL."""
    url = pg_server.createdb("freqtrade")
    build(url)
    return url


@pytest.fixture(scope="session")
def localex():
    """The local exchange (markets for Freqtrade; nothing leaves 127.0.0.1)."""
    from dryrun_str001 import DATADIR

    from freqtrade_exec_ext.localex.server import LocalExchange

    with LocalExchange(DATADIR) as ex:
        yield ex
