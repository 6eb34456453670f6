"""Issue 13.7: the report survives hostile or broken input.

Each case below was reproduced against the report before the fix (a zip bomb read into
9.7 GB and exit 0; ``.last_result.json`` followed outside the results folder; a malformed
ledger row or ``orders.average='abc'`` ending in ``internal error``).  Now: bounded reads,
one line and exit 2 for what cannot be read, and a skipped, counted row for a bad row.
"""

from __future__ import annotations

import json
import resource
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
from report_helpers import run_report

from freqtrade_exec_ext.cli.main import main

GIB = 1 << 30


def _minimal_result(name: str = "S") -> dict:
    """The smallest backtest result Freqtrade's loader accepts: one strategy, no trades."""
    return {"strategy": {name: {"trades": [], "stake_currency": "USDT"}},
            "strategy_comparison": []}


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~1.5 MB zip whose one JSON member inflates to 1.5 GiB (the finding's file)."""
    path = tmp_path_factory.mktemp("bomb") / "backtest-result-2025-01-01_00-00-00.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf, \
            zf.open("backtest-result-2025-01-01_00-00-00.json", "w", force_zip64=True) as fh:
        fh.write(b'{"strategy": {"S": {"trades": [], "pad": "')
        block = b" " * (16 << 20)
        for _ in range((3 * GIB // 2) // len(block)):
            fh.write(block)
        fh.write(b'"}}}')
    return path


@pytest.mark.slow
def test_a_zip_bomb_is_refused_without_inflating_it(zip_bomb, capsys):
    assert zip_bomb.stat().st_size < 4 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = _one_line_exit_2(["report", "--backtest", str(zip_bomb)], capsys)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert str(zip_bomb) in line and "uncompressed" in line and "--max-backtest-mb" in line
    assert grown_mb < 200, f"the report grew by {grown_mb:.0f} MB reading a refused zip"


def test_the_size_cap_is_an_option(tmp_path, capsys):
    path = tmp_path / "backtest-result-x.zip"
    data = json.dumps(_minimal_result()).encode() + b" " * (3 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("backtest-result-x.json", data)
    line = _one_line_exit_2(["report", "--backtest", str(path), "--max-backtest-mb", "1"], capsys)
    assert "3 MB uncompressed" in line and "cap 1 MB" in line
    assert main(["report", "--backtest", str(path), "--max-backtest-mb", "8", "--quiet"]) == 0


def test_a_zip_with_too_many_members_is_refused(tmp_path, capsys):
    path = tmp_path / "backtest-result-x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("backtest-result-x.json", json.dumps(_minimal_result()))
        for i in range(2000):
            zf.writestr(f"junk/{i}.txt", "x")
    line = _one_line_exit_2(["report", "--backtest", str(path)], capsys)
    assert "2001 members" in line and str(path) in line


def test_an_oversized_plain_json_result_is_refused(tmp_path, capsys):
    path = tmp_path / "backtest-result-x.json"
    path.write_bytes(json.dumps(_minimal_result()).encode() + b" " * (2 << 20))
    line = _one_line_exit_2(["report", "--backtest", str(path), "--max-backtest-mb", "1"],
                            capsys)
    assert str(path) in line and "cap 1 MB" in line


def test_last_result_may_not_leave_the_results_folder(tmp_path, capsys):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "backtest-result-secret.json").write_text(json.dumps(_minimal_result()))
    results = tmp_path / "user_data" / "backtest_results"
    results.mkdir(parents=True)
    for target in ("../../elsewhere/backtest-result-secret.json", "../../../../etc/passwd",
                   str(outside / "backtest-result-secret.json")):
        (results / ".last_result.json").write_text(json.dumps({"latest_backtest": target}))
        line = _one_line_exit_2(["report", "--backtest", str(results)], capsys)
        assert ".last_result.json" in line and "inside" in line and target in line


def _copy_db(url: str, tmp_path: Path) -> tuple[str, Path]:
    src = Path(url.removeprefix("sqlite:///"))
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    return f"sqlite:///{dst}", dst


def test_a_malformed_ledger_row_is_skipped_and_counted(ledger_db, tmp_path, capsys):
    url, path = _copy_db(ledger_db, tmp_path)
    con = sqlite3.connect(path)
    con.execute("UPDATE trade_custom_data SET cd_value = '{not json' "
                "WHERE cd_key = 'exec_ext.fill.dry_run_sell_BTC/USDT_3'")
    con.commit()
    con.close()
    rc, data, out, err = run_report(["--db", url], tmp_path, capsys)
    assert rc == 0, err
    gaps = " ".join(data["unavailable"])
    assert "1 ledger record(s) skipped" in gaps and "exec_ext.fill.dry_run_sell_BTC/USDT_3" in gaps
    assert "not valid JSON" in gaps
    assert data["totals"]["orders"] == 7  # the order itself is still reported
    sell = next(g for g in data["groups"] if g["pair"] == "BTC/USDT" and g["side"] == "sell")
    assert sell["slip_decision"] is None  # its ledger values are unknown, not invented
    assert "Could not compute" in out


def test_a_ledger_field_of_the_wrong_type_is_skipped_and_counted(ledger_db, tmp_path, capsys):
    url, path = _copy_db(ledger_db, tmp_path)
    con = sqlite3.connect(path)
    key = "exec_ext.fill.dry_run_buy_BTC/USDT_2"
    (value,) = con.execute("SELECT cd_value FROM trade_custom_data WHERE cd_key = ?",
                           (key,)).fetchone()
    rec = json.loads(value)
    rec["decision_price"] = "abc"
    con.execute("UPDATE trade_custom_data SET cd_value = ? WHERE cd_key = ?",
                (json.dumps(rec), key))
    con.commit()
    con.close()
    rc, data, _, err = run_report(["--db", url], tmp_path, capsys)
    assert rc == 0, err
    gaps = " ".join(data["unavailable"])
    assert "1 ledger record(s) skipped" in gaps and key in gaps and "decision_price" in gaps


def test_a_non_numeric_order_value_is_skipped_and_counted(ledger_db, tmp_path, capsys):
    url, path = _copy_db(ledger_db, tmp_path)
    con = sqlite3.connect(path)
    (row_id,) = con.execute("SELECT id FROM orders WHERE order_id = 'dry_run_buy_ETH/USDT_4'"
                            ).fetchone()
    con.execute("UPDATE orders SET average = 'abc' WHERE id = ?", (row_id,))
    con.commit()
    con.close()
    rc, data, out, err = run_report(["--db", url], tmp_path, capsys)
    assert rc == 0, err
    assert data["totals"]["orders"] == 6  # the broken row is skipped ...
    gaps = " ".join(data["unavailable"])
    # ... and named
    assert "1 order row(s) skipped" in gaps and f"orders.id {row_id}" in gaps
    assert "average" in gaps and "'abc'" in gaps
    assert "Could not compute" in out


def test_a_malformed_backtest_ledger_line_is_skipped_and_counted(tmp_path, capsys):
    results = tmp_path / "backtest_results"
    results.mkdir()
    (results / "backtest-result-x.json").write_text(json.dumps(_minimal_result("S")))
    (results / ".last_result.json").write_text(
        json.dumps({"latest_backtest": "backtest-result-x.json"}))
    (results / "S-exec-ledger.jsonl").write_text('{"pair": "BTC/USDT"\n\n[1, 2]\n')
    rc, data, _, err = run_report(["--backtest", str(results)], tmp_path, capsys)
    assert rc == 0, err
    gaps = " ".join(data["unavailable"])
    assert "2 ledger record(s) skipped" in gaps and "S-exec-ledger.jsonl line 1" in gaps


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://ft:s3cret@127.0.0.1:1/freqtrade",
    "postgresql+psycopg://ft@127.0.0.1:1/freqtrade?password=s3cret",
    "postgresql+psycopg://127.0.0.1:1/freqtrade?sslmode=disable&token=s3cret",
])
def test_no_secret_of_a_database_url_is_printed(url, capsys):
    line = _one_line_exit_2(["report", "--db", url], capsys)
    assert "s3cret" not in line and "***" in line


@pytest.mark.slow
def test_a_zip_whose_headers_understate_its_size_is_refused_within_the_cap(tmp_path, capsys):
    """Headers patched to claim 2 MB for a member that inflates to 320 MB: refused at the
    declared size (CRC error), not after inflating all of it in one call."""
    import struct

    path = tmp_path / "backtest-result-2025-01-02_00-00-00.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf, \
            zf.open("backtest-result-2025-01-02_00-00-00.json", "w") as fh:  # fmt: skip
        fh.write(b"[")
        block = b"0," * (8 << 20)
        for _ in range(20):
            fh.write(block)
        fh.write(b"0]")
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, 22, 2_000_000)  # local header: uncompressed size
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 2_000_000)  # central directory: the same
    path.write_bytes(bytes(raw))
    assert zipfile.ZipFile(path).infolist()[0].file_size == 2_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = _one_line_exit_2(["report", "--backtest", str(path)], capsys)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert line.startswith(f"--backtest {path}: not a readable Freqtrade backtest result")
    assert grown_mb < 100, f"the report grew by {grown_mb:.0f} MB reading a refused zip"
