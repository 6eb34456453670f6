"""``report --db postgresql+psycopg://...`` against a real PostgreSQL server.

The fixture starts a throwaway server on 127.0.0.1 (initdb into a temporary directory,
``pg_ctl start``), writes the same hand-checked Freqtrade database as the SQLite tests
with Freqtrade's own ``init_db`` and models, and stops the server at teardown.  It skips
with the reason when the PostgreSQL binaries or the psycopg driver are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_helpers import build, group, run_report

pytestmark = pytest.mark.postgres


def _pg_bindir() -> Path | None:
    for cand in [os.environ.get("PG_BINDIR", ""),
                 *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if cand and (Path(cand) / "initdb").is_file():
            return Path(cand)
    which = shutil.which("initdb")
    return Path(which).parent if which else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
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
    port = _free_port()
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
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
            "freqtrade")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/freqtrade"
        build(url)
        yield url
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                        "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_report_matches_hand_numbers_and_sqlite(pg_url, ledger_db, tmp_path, capsys):
    rc, pg, _out, err = run_report(["--db", pg_url], tmp_path, capsys)
    assert rc == 0, err
    assert pg["meta"]["dialect"] == "postgresql"
    buy = group(pg, "BTC/USDT", "buy")
    assert buy["slip_decision"]["mean"] == pytest.approx(20.0)
    assert buy["shortfall"]["total"] == pytest.approx(0.3002)
    assert buy["maker_share"] == 1.0
    assert group(pg, "ETH/USDT", "sell")["shortfall"]["opportunity"] == pytest.approx(2.5)
    assert [b["order_id"] for b in pg["breaches"]] == ["dry_run_buy_BTC/USDT_2"]
    # the same Freqtrade rows give the same report through SQLite's reader
    _, lite, _, _ = run_report(["--db", ledger_db], tmp_path, capsys)
    for a, b in zip(pg["groups"], lite["groups"], strict=True):
        assert a["pair"] == b["pair"] and a["side"] == b["side"]
        assert a["filled_notional"] == pytest.approx(b["filled_notional"])
        assert a["shortfall"]["total"] == pytest.approx(b["shortfall"]["total"])
        for m in ("slip_decision", "slip_arrival", "slip_requested"):
            assert (a[m] is None) == (b[m] is None)
            if a[m]:
                assert a[m]["mean"] == pytest.approx(b[m]["mean"])
    assert pg["unavailable"] == lite["unavailable"]


def test_postgres_missing_database_is_one_line(pg_url, tmp_path, capsys):
    from freqtrade_exec_ext.cli.main import main

    bad = pg_url.replace("/freqtrade", "/no_such_db")
    assert main(["report", "--db", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read the database" in err[0]
