"""Fixtures of the operations tests (rate budget, kill switch, metrics, monitoring)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_server import pg_server
from support import free_port

__all__ = ["free_port"]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (skips with the reason without one)."""
    servers = pg_server()
    server = next(servers)  # skips when there is no PostgreSQL
    try:
        yield server.createdb("freqtrade")
    finally:
        servers.close()  # stops the server
