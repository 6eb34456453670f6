"""A throwaway PostgreSQL server for the tests (initdb + pg_ctl on 127.0.0.1).

Skips with the reason when the PostgreSQL binaries or the psycopg driver are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import free_port


class PgServer:
    def __init__(self, port: int, createdb) -> None:
        self.port = port
        self._createdb = createdb

    def createdb(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        self._createdb(name)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def _pg_bindir() -> Path | None:
    for cand in [os.environ.get("PG_BINDIR", ""),
                 *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if cand and (Path(cand) / "initdb").is_file():
            return Path(cand)
    which = shutil.which("initdb")
    return Path(which).parent if which else None


def pg_server() -> Iterator[PgServer]:
    bindir = _pg_bindir()
    if bindir is None or not (bindir / "pg_ctl").is_file():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                    "apt-get install postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg (PostgreSQL driver) not installed; pip install 'psycopg[binary]'")
    # not under pytest's tmp dir: its parents are private to root, and the server runs as
    # the postgres user
    base = Path(tempfile.mkdtemp(prefix="ftexec-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, env=env,
                              timeout=120, check=False)
        if proc.returncode != 0:
            pytest.fail(f"PostgreSQL is installed but {Path(cmd[0]).name} failed: "
                        f"{proc.stderr.strip()[-300:]}")

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
        "--encoding=UTF8", "-N")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w",
        "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        yield PgServer(port, lambda name: run(str(bindir / "createdb"), "-h", "127.0.0.1",
                                             "-p", str(port), "-U", "postgres", name))
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                        "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


