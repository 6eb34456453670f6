"""``freqtrade-exec validate DIR``: re-check a deployment folder; one finding per line.

Checks, in order:

1. secrets: every file is scanned (:mod:`~freqtrade_exec_ext.deploy.secrets`);
2. config validity: config.json parses and passes Freqtrade's own
   ``validate_config_consistency`` (:mod:`~freqtrade_exec_ext.deploy.ft_check`);
3. risk numbers: every contract-derived key is recomputed from risk-assessment.yaml and
   compared (:func:`~freqtrade_exec_ext.deploy.config_builder.risk_mismatches`);
   and the config's contract stamp (:mod:`~freqtrade_exec_ext.deploy.stamp`);
4. exchange safety: a testnet config reaches only ccxt's own test environment, a live config
   is not pointed at a test or local exchange, the API server and published ports are
   loopback, and a testnet on the local exchange hands the venue the bot's key pair;
5. stage order: the stage's prerequisites (:mod:`~freqtrade_exec_ext.deploy.gates`) still
   hold: evidence re-read, the approval's digest, paper evidence and report re-derived.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.contract import ContractError, RiskContract, load_contract
from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.deploy.config_builder import risk_mismatches
from freqtrade_exec_ext.deploy.gates import GateResult, default_evidence_urls, evaluate
from freqtrade_exec_ext.deploy.secrets import scan_folder

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class Validation:
    folder: Path
    findings: list[str] = field(default_factory=list)
    files_scanned: int = 0
    stage: str | None = None
    strategy_id: str | None = None
    contract: RiskContract | None = None
    gates: GateResult | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def project_root(folder: Path) -> Path | None:
    """``<root>/.crypto/knowledge/strategies/<id>/<folder>`` -> ``<root>``."""
    parents = folder.resolve().parents
    if len(parents) > 4 and parents[3].name == ".crypto" and parents[2].name == "knowledge":
        return parents[4]
    return None


def _load_json(path: Path, v: Validation) -> dict[str, Any] | None:
    name = path.name
    if not path.is_file():
        v.findings.append(f"{name}: missing")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        v.findings.append(f"{name}: not valid JSON ({exc})")
        return None
    if not isinstance(data, dict):
        v.findings.append(f"{name}: must be a JSON object")
        return None
    return data


def _testnet_findings(config: dict[str, Any], ex: dict[str, Any]) -> list[str]:
    """A testnet config reaches ccxt's own test environment only."""
    import ccxt

    from freqtrade_exec_ext.deploy.testnets import environment_problems, find_testnet

    out: list[str] = []
    if ex.get("enable_ws", True):
        out.append(
            "config.json: exchange.enable_ws: must be false on testnet (websocket data "
            "would come from production)"
        )
    testnet = find_testnet(str(ex.get("name", "")), str(config.get("trading_mode", "spot")))
    if testnet is None:
        return [*out, f"config.json: exchange.name {ex.get('name')!r}: no known testnet"]
    try:
        bad = environment_problems(ex, testnet)
    except (ccxt.BaseError, TypeError, ValueError, KeyError, AttributeError) as exc:
        bad = [f"cannot build the ccxt client ({exc.__class__.__name__}: {exc})"]
    return out + [f"config.json: exchange: testnet {b}" for b in bad]


def _exchange_findings(config: dict[str, Any], stage: str, manifest: dict[str, Any]) -> list[str]:
    from urllib.parse import urlparse

    ex = config.get("exchange")
    if not isinstance(ex, dict):
        return ["config.json: exchange: missing"]
    out = [
        f"config.json: exchange.{secret}: credentials belong in .env, not here"
        for secret in ("key", "secret", "password", "uid", "apiKey", "api_key", "private_key")
        if ex.get(secret)
    ]
    is_local = manifest.get("exchange") == st.LOCAL_EXCHANGE
    urls = json.dumps(ex.get("ccxt_config", {})) + json.dumps(ex.get("ccxt_async_config", {}))
    test_marks = ("127.0.0.1", "testnet", "demo", "x-simulated-trading", "sandbox")
    if stage == "live" and (
        is_local or any(m in urls.lower() for m in test_marks) or ex.get("demo_trading")
    ):
        out.append(
            "config.json: exchange: the live stage must trade on the production exchange, "
            "not a test or local one"
        )
    elif stage == "testnet" and not is_local:
        out += _testnet_findings(config, ex)
    if is_local:
        for group, url in (ex.get("ccxt_config", {}).get("urls", {}).get("api", {})).items():
            if isinstance(url, str) and urlparse(url).hostname not in LOOPBACK:
                out.append(f"config.json: exchange.ccxt_config.urls.api.{group}: not loopback")
    return out


#: the exchange key pair the bot signs with (and the local exchange accepts)
EXCHANGE_KEY_VARS = ("FREQTRADE__EXCHANGE__KEY", "FREQTRADE__EXCHANGE__SECRET")


def _localex_findings(services: dict[str, Any], stage: str) -> list[str]:
    """A testnet on the local exchange: the venue must get the key pair the bot uses."""
    svc = services.get("localex")
    if not isinstance(svc, dict):
        return [f"{st.COMPOSE_FILE}: no 'localex' service, but the config trades on it"]
    if stage != "testnet":
        return []
    env_file = svc.get("env_file")
    if env_file == st.ENV_FILE or st.ENV_FILE in (env_file or []):
        return []
    env = svc.get("environment") or {}
    names = set(env) if isinstance(env, dict) else {str(e).split("=", 1)[0] for e in env}
    missing = [v for v in EXCHANGE_KEY_VARS if v not in names]
    if not missing:
        return []
    finding = (
        f"{st.COMPOSE_FILE}: services.localex.environment: {', '.join(missing)} missing; the "
        "local exchange would refuse the bot's signed requests (-2015)"
    )
    return [finding]


def _compose_findings(folder: Path, manifest: dict[str, Any]) -> list[str]:
    import yaml

    path = folder / st.COMPOSE_FILE
    if not path.is_file():
        return [f"{st.COMPOSE_FILE}: missing"]
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [f"{st.COMPOSE_FILE}: not valid YAML ({exc.__class__.__name__})"]
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict) or "freqtrade" not in services:
        return [f"{st.COMPOSE_FILE}: no 'freqtrade' service"]
    out = []
    for name, svc in services.items():
        for port in (svc or {}).get("ports", []) or []:
            text = port if isinstance(port, str) else json.dumps(port)
            if not (isinstance(port, str) and port.startswith("127.0.0.1:")):
                out.append(
                    f"{st.COMPOSE_FILE}: services.{name}.ports: {text} is not bound to 127.0.0.1"
                )
    if manifest.get("exchange") == st.LOCAL_EXCHANGE:
        out += _localex_findings(services, str(manifest.get("stage")))
    env_file = services["freqtrade"].get("env_file")
    if env_file != st.ENV_FILE and st.ENV_FILE not in (env_file or []):
        out.append(f"{st.COMPOSE_FILE}: services.freqtrade.env_file: must be {st.ENV_FILE}")
    if not (folder / st.ENV_EXAMPLE).is_file():
        out.append(f"{st.ENV_EXAMPLE}: missing")
    return out


def validate_folder(folder: Path, *, root: Path | None = None) -> Validation:
    v = Validation(folder)
    if not folder.is_dir():
        v.findings.append(f"{folder}: not a folder")
        return v
    secrets, v.files_scanned = scan_folder(folder)
    v.findings += [str(s) for s in secrets]

    manifest = _load_json(folder / st.MANIFEST_FILE, v) or {}
    config = _load_json(folder / st.CONFIG_FILE, v)
    stage = manifest.get("stage")
    if stage not in st.STAGES:
        v.findings.append(f"{st.MANIFEST_FILE}: stage: must be one of {', '.join(st.STAGES)}")
        return v
    v.stage = stage
    sid = str(manifest.get("strategy_id", ""))
    v.strategy_id = sid
    root = root or project_root(folder)
    if root is None:
        v.findings.append(
            f"{folder}: not inside <root>/.crypto/knowledge/strategies/<id>/; pass --root"
        )
        return v
    try:
        contract = load_contract(root / st.contract_posix(sid))
    except ContractError as exc:
        v.findings += [str(p) for p in exc.problems]
        return v
    v.contract = contract
    if config is not None:
        ext: dict[str, Any] = _dict(config.get("exec_ext"))
        if ext.get("stage") != stage:
            v.findings.append(
                f"config.json: exec_ext.stage: is {ext.get('stage')!r}, manifest says {stage!r}"
            )
        v.findings += _freqtrade_findings(config, root, sid)
        v.findings += _exchange_findings(config, stage, manifest)
        api = config.get("api_server") or {}
        if api.get("enabled") and api.get("listen_ip_address") not in LOOPBACK:
            v.findings.append("config.json: api_server.listen_ip_address: must be loopback")
    v.findings += _compose_findings(folder, manifest)

    urls = {**default_evidence_urls(sid, manifest.get("db", "sqlite"))}
    urls.update(manifest.get("evidence_urls") or {})
    gates = evaluate(stage, contract, root, urls)
    v.gates = gates
    v.findings += [f"stage order: {p}" for p in gates.problems]
    if config is not None:
        capital = gates.approval.capital if gates.approval else None
        if stage != "live" or capital is not None:
            v.findings += [
                f"config.json: {m}" for m in risk_mismatches(config, contract, stage, capital)
            ]
    return v


def _freqtrade_findings(config: dict[str, Any], root: Path, sid: str) -> list[str]:
    from freqtrade_exec_ext.deploy.ft_check import freqtrade_problems, strategy_attributes

    try:
        _, attrs = strategy_attributes(root / "user_data" / "strategies", st.strategy_class(sid))
    except FileNotFoundError as exc:
        return [f"strategy: {exc}"]
    return [f"config.json: {p}" for p in freqtrade_problems(config, attrs)]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
