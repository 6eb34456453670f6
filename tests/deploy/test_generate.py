"""``freqtrade-exec deploy``: the three stages, their refusals, atomic idempotent writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from deploytools import (
    DEPLOYMENT,
    deploy,
    make_paper_db,
    make_ready,
    make_testnet_db,
    run_cli,
    secrets_file,
    snapshot,
)

BASE_FILES = {
    "monitoring",
    ".env.example",
    "Dockerfile",
    "Dockerfile.dockerignore",
    "config.json",
    "deployment-checklist.md",
    "docker-compose.yml",
    "manifest.json",
}


def checklist(root: Path) -> str:
    return (root / DEPLOYMENT / "deployment-checklist.md").read_text()


def box(text: str, item: str) -> str:
    return next(line for line in text.splitlines() if item in line)


@pytest.mark.parametrize("stage", ["testnet", "paper", "live"])
def test_each_stage_writes_its_tree(project, capsys, stage):
    make_ready(project, stage)
    assert deploy(project, stage) == 0
    out = capsys.readouterr().out
    assert f"STR-001: {stage} deployment written to {DEPLOYMENT}/" in out
    folder = project / DEPLOYMENT
    assert {p.name for p in folder.iterdir()} == BASE_FILES
    config = json.loads((folder / "config.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert config["exec_ext"]["stage"] == manifest["stage"] == stage
    assert config["dry_run"] is (stage == "paper")
    # nothing beside the deployment folder except what the user put there
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".deployment")]
    assert leftovers == []


def test_checklist_follows_the_template_and_checks_only_verified_boxes(project):
    make_ready(project, "paper")
    assert deploy(project, "paper") == 0
    text = checklist(project)
    assert text.startswith("# Deployment Checklist: STR-001\n")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Pre-Deployment",
        "## Paper Trading",
        "## Live Trading (HUMAN APPROVAL REQUIRED)",
    ]
    assert box(text, "Testnet dry-run successful") == (
        "- [x] Testnet dry-run successful: 1 run session on the test environment, 4 filled "
        "orders, 0 rejected, 2 closed trades, 2 stop-loss orders on the exchange, 6 orders "
        "matched to the order journal, 0 failed checks (user_data/STR-001.testnet.sqlite)"
    )
    assert box(text, "Paper trading mode enabled").startswith("- [x]")
    assert "dry_run_wallet 1000 USDT = capital.initial_capital" in box(text, "Initial capital")
    assert box(text, "Kill switch accessible").startswith(
        "- [x] Kill switch accessible: freqtrade-exec kill STR-001"
    )
    for manual in ("API keys configured", "Monitor agent", "Emergency contacts", "reviewed by"):
        assert box(text, manual).startswith("- [ ]")
    assert len([line for line in text.splitlines() if line.startswith("- [")]) == 14


def test_paper_is_refused_without_testnet_evidence(project, capsys):
    assert deploy(project, "testnet") == 0
    before = snapshot(project / DEPLOYMENT)
    capsys.readouterr()
    assert deploy(project, "paper") == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("refused: STR-001 --stage paper")
    assert "testnet evidence: user_data/STR-001.testnet.sqlite: does not exist" in err
    assert "nothing was written" in err
    assert snapshot(project / DEPLOYMENT) == before


def test_paper_is_refused_when_testnet_had_failed_checks(project, capsys):
    make_testnet_db(project, closed_trades=3, rejected=1, over_budget=1)
    assert deploy(project, "paper") == 2
    err = capsys.readouterr().err
    assert "has 2 failed checks (1 rejected order, 1 fill over the slippage budget)" in err
    assert not (project / DEPLOYMENT).exists()


def test_paper_is_refused_when_testnet_never_closed_a_trade(project, capsys):
    make_testnet_db(project, closed_trades=0, open_trades=1)
    assert deploy(project, "paper") == 2
    err = capsys.readouterr().err
    assert "shows 1 filled orders and 0 closed trades" in err


def test_live_is_refused_before_14_days_of_paper_and_without_approval(project, capsys):
    make_testnet_db(project)
    make_paper_db(project, days=3.0)
    assert deploy(project, "live") == 2
    err = capsys.readouterr().err
    assert "heartbeats cover 3.0 days without a gap over 1.0 h" in err
    assert "live needs at least 14 days" in err
    assert "human approval:" in err and "no approval recorded" in err
    assert "freqtrade-exec approve STR-001 --by NAME --capital AMOUNT" in err


def test_live_is_refused_when_the_contract_changed_after_approval(project, capsys):
    make_ready(project, "live")
    contract = project / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
    contract.write_text(contract.read_text().replace("stoploss: -0.05", "stoploss: -0.06"))
    assert deploy(project, "live") == 2
    assert "changed after approval" in capsys.readouterr().err


def test_live_uses_the_approved_capital_and_shows_the_approval(project):
    make_ready(project, "live")
    assert deploy(project, "live") == 0
    config = json.loads((project / DEPLOYMENT / "config.json").read_text())
    assert config["available_capital"] == 600.0
    assert config["dry_run"] is False
    text = checklist(project)
    assert box(text, "reviewed by human").startswith(
        "- [x] Paper trading results reviewed by human: approved by Alice Example at "
        "2026-01-21T08:00:00Z"
    )
    assert "available_capital 600 USDT" in box(text, "Live capital allocation confirmed")
    assert box(text, "Duration: minimum 2 weeks").startswith(
        "- [x] Duration: minimum 2 weeks before live review: paper ran 15.0 days"
    )


def test_generation_is_idempotent(project):
    make_ready(project, "live")
    for stage in ("testnet", "paper", "live"):
        assert deploy(project, stage) == 0
        first = snapshot(project / DEPLOYMENT)
        assert deploy(project, stage) == 0
        assert snapshot(project / DEPLOYMENT) == first


def test_a_failed_write_leaves_the_previous_deployment_untouched(project, monkeypatch, capsys):
    make_ready(project, "paper")
    assert deploy(project, "testnet") == 0
    before = snapshot(project / DEPLOYMENT)
    real = Path.write_text

    def failing(self, data, *a, **kw):
        if self.name == "docker-compose.yml":
            raise OSError(28, "No space left on device")
        return real(self, data, *a, **kw)

    monkeypatch.setattr(Path, "write_text", failing)
    assert deploy(project, "paper") == 1  # an internal error, reported on one line
    assert "No space left on device" in capsys.readouterr().err
    monkeypatch.undo()
    assert snapshot(project / DEPLOYMENT) == before
    # no temporary folder is left behind
    names = {p.name for p in (project / DEPLOYMENT).parent.iterdir()}
    assert names == {"deployment", "risk-assessment.yaml"}


def test_the_same_stages_env_file_survives_regeneration(project):
    assert deploy(project, "testnet") == 0
    env = project / DEPLOYMENT / ".env"
    secrets_file(env, "FREQTRADE__API_SERVER__PASSWORD=s3cret-value\n")
    inode = env.stat().st_ino
    assert deploy(project, "testnet", "--api-port", "8090") == 0
    assert env.read_text() == "FREQTRADE__API_SERVER__PASSWORD=s3cret-value\n"
    assert env.stat().st_mode & 0o777 == 0o600
    assert env.stat().st_ino == inode and env.stat().st_nlink == 1  # moved, never copied


def test_no_env_file_is_carried_to_another_stage(project, capsys):
    """Testnet keys must not land in the paper or live folder: deploy refuses, one line."""
    make_ready(project, "paper")
    assert deploy(project, "testnet") == 0
    env = project / DEPLOYMENT / ".env"
    secrets_file(env, "FREQTRADE__EXCHANGE__KEY=testnet-key\n")
    before = snapshot(project / DEPLOYMENT)
    capsys.readouterr()
    assert deploy(project, "paper") == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        (f"{DEPLOYMENT}/.env: holds the testnet stage's secrets and is never carried to "
        "another stage: move it out of .crypto/ (or delete it), then run deploy again and "
        "fill a new .env from the paper stage's .env.example")
    ]
    assert snapshot(project / DEPLOYMENT) == before
    env.rename(project / "testnet.env")
    assert deploy(project, "paper") == 0
    folder = project / DEPLOYMENT
    assert not (folder / ".env").exists()
    example = (folder / ".env.example").read_text()
    assert "FREQTRADE__EXCHANGE__KEY" not in example  # paper needs no exchange keys
    assert all(line.endswith("=") or "=false" in line
               for line in example.splitlines() if "=" in line and not line.startswith("#"))


def test_symbolic_links_in_the_deployment_folder_are_refused(project, capsys, tmp_path):
    assert deploy(project, "testnet") == 0
    outside = tmp_path / "elsewhere.env"
    outside.write_text("FREQTRADE__EXCHANGE__KEY=x\n")
    (project / DEPLOYMENT / ".env").symlink_to(outside)
    capsys.readouterr()
    assert deploy(project, "testnet") == 2
    assert capsys.readouterr().err.startswith(f"{DEPLOYMENT}/.env: a symbolic link;")
    assert run_cli("validate", str(project / DEPLOYMENT)) == 2
    assert ".env: symbolic link (not followed, not scanned)" in capsys.readouterr().err


def test_a_deployment_folder_that_is_a_symbolic_link_is_refused(project, capsys, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / DEPLOYMENT).parent.mkdir(parents=True, exist_ok=True)
    (project / DEPLOYMENT).symlink_to(elsewhere, target_is_directory=True)
    assert deploy(project, "testnet") == 2
    assert capsys.readouterr().err.startswith(f"{DEPLOYMENT}: a symbolic link;")
    assert list(elsewhere.iterdir()) == []


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run(project):
    assert deploy(project, "testnet") == 0
    parent = (project / DEPLOYMENT).parent
    stale = parent / ".deployment.tmp-k1ll3d"
    stale.mkdir()
    secrets_file(stale / ".env", "FREQTRADE__EXCHANGE__SECRET=left-behind\n")
    assert deploy(project, "testnet") == 0
    assert sorted(p.name for p in parent.iterdir()) == ["deployment", "risk-assessment.yaml"]


def test_a_deployment_moved_aside_by_a_killed_run_is_put_back(project):
    assert deploy(project, "testnet") == 0
    folder = project / DEPLOYMENT
    secrets_file(folder / ".env", "FREQTRADE__API_SERVER__PASSWORD=kept\n")
    folder.rename(folder.parent / ".deployment.old-k1ll3d")  # killed between the renames
    assert deploy(project, "testnet") == 0
    assert (folder / ".env").read_text() == "FREQTRADE__API_SERVER__PASSWORD=kept\n"
    assert sorted(p.name for p in folder.parent.iterdir()) == [
        "deployment", "risk-assessment.yaml"
    ]


def test_postgres_adds_a_database_service_and_per_stage_databases(project):
    assert deploy(project, "testnet", "--db", "postgres") == 0
    folder = project / DEPLOYMENT
    assert "postgres-init.sql" in {p.name for p in folder.iterdir()}
    compose = yaml.safe_load((folder / "docker-compose.yml").read_text())
    assert compose["services"]["postgres"]["ports"] == ["127.0.0.1:5432:5432"]
    assert compose["services"]["freqtrade"]["depends_on"]["postgres"] == {
        "condition": "service_healthy"
    }
    assert "CREATE DATABASE str_001_paper" in (folder / "postgres-init.sql").read_text()
    assert "POSTGRES_PASSWORD=" in (folder / ".env.example").read_text()
    assert "psycopg[binary]" in (folder / "Dockerfile").read_text()


def test_bad_input_is_one_line_and_exit_2(project, capsys):
    assert deploy(project, "paper", "--exchange", "kraken") == 2
    assert capsys.readouterr().err.startswith("--exchange: 'kraken' differs from the contract")
    assert deploy(project, "live", "--exchange", "local") == 2
    assert "the live stage trades on the real exchange" in capsys.readouterr().err
    assert deploy(project, "testnet", "--api-port", "80") == 2
    assert "--api-port: must be 1024..65535, was 80" in capsys.readouterr().err
    (project / "user_data/strategies/STR001.py").unlink()
    assert deploy(project, "testnet") == 2
    assert "no file defines class STR001" in capsys.readouterr().err


def test_okx_demo_trading_is_a_testnet_stage(project, capsys):
    contract = project / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
    contract.write_text(contract.read_text().replace("exchange: binance", "exchange: okx"))
    assert deploy(project, "testnet") == 0
    folder = project / DEPLOYMENT
    config = json.loads((folder / "config.json").read_text())
    assert config["exchange"]["name"] == "okx" and config["dry_run"] is False
    assert config["exchange"]["ccxt_config"]["headers"] == {"x-simulated-trading": "1"}
    example = (folder / ".env.example").read_text()
    assert "OKX demo trading" in example and "passphrase" in example
    assert "FREQTRADE__EXCHANGE__PASSWORD=\n" in example  # the API passphrase
    compose = yaml.safe_load((folder / "docker-compose.yml").read_text())
    assert "FREQTRADE__EXCHANGE__PASSWORD" in compose["services"]["freqtrade"]["environment"]
    capsys.readouterr()
    assert run_cli("validate", str(folder)) == 0
    # without the header the same host trades the production account: validate says so
    config["exchange"]["ccxt_config"].pop("headers")
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    assert run_cli("validate", str(folder)) == 2
    assert (
        "config.json: exchange: testnet reaches production: header x-simulated-trading: 1 "
        "missing (ccxt_config.headers); without it every request goes to the production account"
    ) in capsys.readouterr().err.splitlines()
