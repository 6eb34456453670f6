"""``freqtrade-exec risk check`` as a user runs it: exit codes, table, one line per problem."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from freqtrade_exec_ext.cli.main import main
from freqtrade_exec_ext.contract.docs import render_table

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "freqtrade_exec_ext.cli.main", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "120"},
    )


def test_shipped_contract_prints_the_table_and_exits_0(str001_contract_path: Path) -> None:
    proc = run_cli("risk", "check", str(str001_contract_path))
    assert proc.returncode == 0, proc.stderr
    assert "slippage.max_entry_bps" in proc.stdout
    assert "sizing.method" in proc.stdout and "risk_per_trade" in proc.stdout
    assert "is a valid version-1 risk contract" in proc.stdout
    assert proc.stderr == ""


def test_json_output_is_the_normalized_contract(str001_contract_path: Path) -> None:
    proc = run_cli("risk", "check", str(str001_contract_path), "--json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["slippage"]["max_entry_bps"] == 15
    assert data["orders"]["max_retries"] == 2  # defaults are filled in


def test_broken_file_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "risk-assessment.yaml"
    bad.write_text(
        "schema_version: 1\nstrategy_id: STR-001\ncapital: {initial_capital: -5}\n"
        "sizing: {method: fixed_stake}\nstop_loss: {stoploss: -0.05}\n"
        "slippage: {max_entry_bps: 15, max_exit_bps: 30, max_spred_bps: 3}\n"
    )
    proc = run_cli("risk", "check", str(bad))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{bad}: ") for line in lines)
    assert any("capital.initial_capital: must be greater than 0" in line for line in lines)
    assert any(
        "max_spred_bps: unknown key; did you mean 'max_spread_bps'?" in line for line in lines
    )
    assert "Traceback" not in proc.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    proc = run_cli("risk", "check", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("file does not exist; expected risk-assessment.yaml")


def test_random_bytes_never_give_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(7)
    path = tmp_path / "risk-assessment.yaml"
    seeds = [b"schema_version: 1\n", b"{[&*!|>%@`", b"\xff\xfe", b"- ", b"a: b: c", b"? ", b"\t"]
    for _ in range(200):
        blob = b"".join(rng.choice(seeds) for _ in range(rng.randint(1, 30)))
        path.write_bytes(blob)
        assert main(["risk", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert all(line.startswith(str(path)) for line in err.strip().splitlines())


def test_docs_reference_is_generated_from_the_model(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "risk-assessment.md").read_text()
    assert render_table() in doc, "run: python -m freqtrade_exec_ext.contract.docs"
