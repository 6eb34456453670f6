"""``freqtrade-exec calibrate`` and ``risk check`` with a backtest model: output and bad
input (one line on stderr, exit code 2, nothing written)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from freqtrade_exec_ext.calibration.model import load
from freqtrade_exec_ext.cli.main import main


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_calibrate_writes_a_model_and_says_what_is_in_it(venue_url, datadir, tmp_path, capsys):
    out_file = tmp_path / "model.json"
    rc, out, err = run(["calibrate", "--db", venue_url, "--datadir", str(datadir), "--out",
                        str(out_file)], capsys)
    assert rc == 0, err
    m = load(out_file)
    assert out.startswith("execution model: binance spot, 5m candles")
    assert f"databases: {venue_url}" in out
    assert "cell entry/buy/limit: 48 attempts" in out
    assert "fill probability within the timeout" in out and "maker share" in out
    assert "stop-loss (sell) trigger-to-fill gap" in out
    assert "pooled: entry/buy/limit BTC/USDT" in out  # 6 hours: few fills per pair
    assert out.rstrip().endswith(f"wrote {out_file}")
    assert m.provenance.fills == sum(c.fills for c in m.cells) + sum(
        s.gap_bps.n for s in m.stops)


def _freqtrade_db_without_ledger(path: Path, source: Path) -> str:
    shutil.copyfile(source, path)
    con = sqlite3.connect(path)
    con.execute("DELETE FROM trade_custom_data")
    con.commit()
    con.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("missing", "file not found"),
        ("not_freqtrade", "not a Freqtrade trade database"),
        ("no_ledger", "no execution ledger records"),
        ("bad_datadir", "--datadir"),
        ("bad_min_fills", "--min-fills 0"),
        ("no_out_dir", "does not exist"),
        ("postgres_password", "not a usable database URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(case, expect, venue_db, tmp_path, capsys):
    out_file = tmp_path / "m.json"
    url = f"sqlite:///{venue_db}"
    extra: list[str] = []
    if case == "missing":
        url = f"sqlite:///{tmp_path / 'nope.sqlite'}"
    elif case == "not_freqtrade":
        sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE t (x)").connection.close()
        url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    elif case == "no_ledger":
        url = _freqtrade_db_without_ledger(tmp_path / "plain.sqlite", venue_db)
    elif case == "bad_datadir":
        extra = ["--datadir", str(tmp_path / "nodir")]
    elif case == "bad_min_fills":
        extra = ["--min-fills", "0"]
    elif case == "no_out_dir":
        out_file = tmp_path / "sub" / "m.json"
    elif case == "postgres_password":
        url = "notadialect://user:hunter2@host/db"
    rc, out, err = run(["calibrate", "--db", url, "--out", str(out_file), *extra], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], err
    assert "Traceback" not in err and "hunter2" not in err + out
    assert not out_file.exists()


def _contract(tmp_path: Path, str001: Path, model: str) -> Path:
    data = yaml.safe_load(str001.read_text())
    data["slippage"]["backtest_model"] = model
    folder = tmp_path / ".crypto" / "knowledge" / "strategies" / "STR-001"
    folder.mkdir(parents=True)
    path = folder / "risk-assessment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_risk_check_reads_the_backtest_model(venue_url, tmp_path, str001_contract_path, capsys):
    contract = _contract(tmp_path, str001_contract_path, "execution-model.json")
    rc, _, err = run(["calibrate", "--db", venue_url, "--out",
                      str(contract.parent / "execution-model.json")], capsys)
    assert rc == 0, err
    rc, out, err = run(["risk", "check", str(contract)], capsys)
    assert rc == 0, err
    assert f"backtest model: {contract.parent / 'execution-model.json'} (binance spot" in out


@pytest.mark.parametrize(("content", "expect"), [
    (None, "execution model file not found"),
    ('{"kind": "other"}', "not an execution model"),
])
def test_risk_check_refuses_a_missing_or_foreign_model(
    tmp_path, str001_contract_path, capsys, content, expect
):
    contract = _contract(tmp_path, str001_contract_path, "m.json")
    if content is not None:
        (contract.parent / "m.json").write_text(content)
    rc, _, err = run(["risk", "check", str(contract)], capsys)
    assert rc == 2
    (line,) = err.strip().splitlines()
    assert "slippage.backtest_model" in line and expect in line


def test_contracts_without_a_model_keep_their_fingerprint(str001_contract_path):
    from freqtrade_exec_ext.contract import load_contract

    c = load_contract(str001_contract_path)
    assert c.slippage.backtest_model is None
    assert "backtest_model" not in c.normalized()["slippage"]
