"""``freqtrade-exec validate DIR``: clean folders pass; every kind of problem is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploytools import DEPLOYMENT, deploy, make_ready, run_cli, secrets_file

BINANCE_LIKE_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw12"
DISCORD_HOOK = "https://discord.com/api/webhooks/112233445566/AbCdEf-GhIjKlMnOp_QrStUv"


def validate(project: Path, capsys) -> tuple[int, list[str], str]:
    rc = run_cli("validate", str(project / DEPLOYMENT))
    captured = capsys.readouterr()
    return rc, captured.err.splitlines(), captured.out


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


@pytest.mark.parametrize("stage", ["testnet", "paper", "live"])
def test_generated_deployments_validate_clean(project, capsys, stage):
    make_ready(project, stage)
    assert deploy(project, stage) == 0
    capsys.readouterr()
    rc, err, out = validate(project, capsys)
    assert (rc, err) == (0, [])
    assert out.startswith(f"OK: {project / DEPLOYMENT} (STR-001, stage {stage}): 12 files scanned")


def test_planted_secrets_are_caught_one_line_each_without_showing_them(project, capsys):
    assert deploy(project, "testnet") == 0
    folder = project / DEPLOYMENT
    edit_json(folder / "config.json", lambda c: c["exchange"].update(secret=BINANCE_LIKE_KEY))
    with (folder / "docker-compose.yml").open("a") as fh:
        fh.write(f"# telegram bot: {TELEGRAM_TOKEN}\n")
    with (folder / "deployment-checklist.md").open("a") as fh:
        fh.write(f"alerts go to {DISCORD_HOOK}\n")
    (folder / "notes.txt").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    hidden = folder / ".cache" / ".keys"
    hidden.parent.mkdir()
    hidden.write_text(f"{BINANCE_LIKE_KEY}\n")
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    text = "\n".join(err)
    for secret in (BINANCE_LIKE_KEY, TELEGRAM_TOKEN, DISCORD_HOOK):
        assert secret not in text
    config_line = next(
        i for i, line in enumerate((folder / "config.json").read_text().splitlines(), 1)
        if BINANCE_LIKE_KEY in line
    )
    assert f"config.json:{config_line}: exchange credential (exchange.secret)" in err
    assert "config.json: exchange.secret: credentials belong in .env, not here" in err
    assert any(
        line.startswith("docker-compose.yml:") and line.endswith(": Telegram bot token")
        for line in err
    )
    assert any(
        line.startswith("deployment-checklist.md:") and "Discord webhook" in line for line in err
    )
    assert "notes.txt:1: private key block" in err
    # dotfiles in dot-folders are scanned too
    assert ".cache/.keys:1: high-entropy token (64 characters)" in err


def test_a_secret_typed_into_env_example_is_caught(project, capsys):
    assert deploy(project, "testnet") == 0
    example = project / DEPLOYMENT / ".env.example"
    example.write_text(
        example.read_text().replace(
            "FREQTRADE__API_SERVER__PASSWORD=\n", "FREQTRADE__API_SERVER__PASSWORD=hunter2\n"
        )
    )
    lineno = example.read_text().splitlines().index("FREQTRADE__API_SERVER__PASSWORD=hunter2")
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert err == [f".env.example:{lineno + 1}: API password (api_server.password)"]


def test_env_holds_secrets_but_must_be_private(project, capsys):
    assert deploy(project, "testnet") == 0
    env = project / DEPLOYMENT / ".env"
    secrets_file(env, f"FREQTRADE__EXCHANGE__SECRET={BINANCE_LIKE_KEY}\n")
    assert validate(project, capsys)[0] == 0
    env.chmod(0o644)
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert err[0].startswith(".env: secrets file readable by group/others (mode 644)")


def test_hand_edited_risk_numbers_are_caught(project, capsys):
    assert deploy(project, "testnet") == 0

    def loosen(c):
        c["stoploss"] = -0.2
        c["max_open_trades"] = 10

    edit_json(project / DEPLOYMENT / "config.json", loosen)
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert "config.json: stoploss: is -0.2, the contract gives -0.05" in err
    assert "config.json: max_open_trades: is 10, the contract gives 3" in err


def test_a_changed_contract_makes_the_deployment_stale(project, capsys):
    assert deploy(project, "testnet") == 0
    contract = project / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
    contract.write_text(contract.read_text().replace("max_open_trades: 3", "max_open_trades: 2"))
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert "config.json: max_open_trades: is 3, the contract gives 2" in err
    assert any("contract edited after deploy (stamp" in e for e in err)


def test_config_freqtrade_rejects_is_caught(project, capsys):
    assert deploy(project, "testnet") == 0
    edit_json(
        project / DEPLOYMENT / "config.json",
        lambda c: c["entry_pricing"].update(price_side="sideways"),
    )
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert any(e.startswith("config.json: Freqtrade rejects it:") and "sideways" in e for e in err)


def test_testnet_pointed_at_production_is_caught(project, capsys):
    assert deploy(project, "testnet") == 0

    def to_production(c):
        urls = c["exchange"]["ccxt_config"]["urls"]["api"]
        urls["private"] = "https://api.binance.com/api/v3"
        del urls["sapi"]  # falls back to ccxt's production sapi URL

    edit_json(project / DEPLOYMENT / "config.json", to_production)
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert (
        "config.json: exchange: testnet reaches production: private = "
        "https://api.binance.com/api/v3" in err
    )
    assert any("testnet reaches production: sapi = https://api.binance.com" in e for e in err)


def test_stage_order_is_rechecked(project, capsys):
    make_ready(project, "paper")
    assert deploy(project, "paper") == 0
    (project / "user_data/STR-001.testnet.sqlite").unlink()
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert err[0].startswith(
        "stage order: testnet evidence: user_data/STR-001.testnet.sqlite: does not exist"
    )


def test_live_approval_is_rechecked(project, capsys):
    make_ready(project, "live")
    assert deploy(project, "live") == 0
    (project / ".crypto/knowledge/strategies/STR-001/approvals/live.json").unlink()
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert any(e.startswith("stage order: human approval:") for e in err)


def test_ports_must_stay_on_loopback(project, capsys):
    assert deploy(project, "testnet") == 0
    compose = project / DEPLOYMENT / "docker-compose.yml"
    compose.write_text(compose.read_text().replace('"127.0.0.1:8080:8080"', '"8080:8080"'))
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert err == [
        "docker-compose.yml: services.freqtrade.ports: 8080:8080 is not bound to 127.0.0.1"
    ]


def test_not_a_deployment_folder(project, capsys):
    rc = run_cli("validate", str(project / "user_data"))
    err = capsys.readouterr().err.splitlines()
    assert rc == 2
    assert "manifest.json: missing" in err


def test_local_testnet_trades_live_and_validates_clean(project, capsys):
    assert deploy(project, "testnet", "--exchange", "local") == 0
    folder = project / DEPLOYMENT
    config = json.loads((folder / "config.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert config["dry_run"] is False and "simulated_fills" not in manifest
    capsys.readouterr()
    rc, err, out = validate(project, capsys)
    assert (rc, err) == (0, [])
    assert "stage testnet" in out


def test_a_dry_run_testnet_on_the_local_exchange_is_stale(project, capsys):
    """What the generator wrote while the local exchange did not match orders."""
    assert deploy(project, "testnet", "--exchange", "local") == 0
    edit_json(project / DEPLOYMENT / "config.json", lambda c: c.update(dry_run=True))
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert err == ["config.json: dry_run: is true, the contract gives false"]


def test_local_testnet_venue_without_the_key_pair_is_caught(project, capsys):
    assert deploy(project, "testnet", "--exchange", "local") == 0
    compose = project / DEPLOYMENT / "docker-compose.yml"
    text = compose.read_text()
    start = text.index("    environment:\n      FREQTRADE__EXCHANGE__KEY")
    end = text.index("    volumes:", start)
    compose.write_text(text[:start] + text[end:])
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    finding = (
        "docker-compose.yml: services.localex.environment: FREQTRADE__EXCHANGE__KEY, "
        "FREQTRADE__EXCHANGE__SECRET missing; the local exchange would refuse the bot's "
        "signed requests (-2015)"
    )
    assert err == [finding]


def test_live_config_pointed_at_the_local_exchange_is_caught(project, capsys):
    from freqtrade_exec_ext.localex import ccxt_urls

    make_ready(project, "live")
    assert deploy(project, "live") == 0
    edit_json(
        project / DEPLOYMENT / "config.json",
        lambda c: c["exchange"].update(ccxt_config=ccxt_urls("http://127.0.0.1:8765")),
    )
    rc, err, _ = validate(project, capsys)
    assert rc == 2
    assert (
        "config.json: exchange: the live stage must trade on the production exchange, not a "
        "test or local one"
    ) in err
