"""config.json from the contract: complete, valid for Freqtrade, secret-free, per stage."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from freqtrade_exec_ext.contract import load_contract, parse_contract
from freqtrade_exec_ext.deploy.config_builder import (
    BuildError,
    DeployOptions,
    build_config,
    parse_pairs,
    risk_mismatches,
    webhook_templates,
)
from freqtrade_exec_ext.deploy.ft_check import freqtrade_problems, strategy_attributes
from freqtrade_exec_ext.deploy.secrets import scan_text
from freqtrade_exec_ext.deploy.testnets import (
    BINANCE_REST_GROUPS,
    TESTNETS,
    client_from_config,
    environment_problems,
    find_testnet,
)

REPO = Path(__file__).resolve().parents[2]
PAIRS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture(scope="module")
def contract():
    return load_contract(REPO / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml")


@pytest.fixture(scope="module")
def strategy_attrs():
    _, attrs = strategy_attributes(REPO / "user_data/strategies", "STR001")
    return attrs


def contract_with(**changes):
    data = yaml.safe_load(
        (REPO / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml").read_text()
    )
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return parse_contract(data)


def cfg(contract, stage, exchange="binance", live_capital=500.0, **kw):
    return build_config(
        contract,
        DeployOptions(stage=stage, exchange=exchange, pairs=PAIRS, **kw),
        live_capital=live_capital if stage == "live" else None,
    )


@pytest.mark.parametrize("stage", ["testnet", "paper", "live"])
def test_every_stage_passes_freqtrades_own_validation(contract, strategy_attrs, stage):
    config = cfg(contract, stage)
    assert freqtrade_problems(config, strategy_attrs) == []
    # the same check without the strategy's keys (Freqtrade's minimal requirements)
    assert freqtrade_problems(config, {}) == []


def test_freqtrades_validation_is_not_vacuous(contract, strategy_attrs):
    config = cfg(contract, "paper")
    config["order_types"]["entry"] = "market"  # market entry needs price_side other
    assert "price_side" in freqtrade_problems(config, strategy_attrs)[0]
    config = cfg(contract, "paper")
    config["pairlists"] = [{"method": "ExecutionCostFilter"}]  # unknown to the schema
    assert "ExecutionCostFilter" in freqtrade_problems(config, strategy_attrs)[0]
    config = cfg(contract, "live")
    del config["stoploss"]
    assert "stoploss" in freqtrade_problems(config, strategy_attrs)[0]


def test_paper_is_dry_run_with_the_contracts_capital(contract):
    config = cfg(contract, "paper")
    assert config["dry_run"] is True
    assert config["dry_run_wallet"] == contract.capital.initial_capital
    assert "available_capital" not in config


def test_live_trades_real_money_with_the_approved_capital(contract):
    config = cfg(contract, "live", live_capital=420.0)
    assert config["dry_run"] is False
    assert config["available_capital"] == 420.0
    with pytest.raises(BuildError, match="approved capital"):
        build_config(contract, DeployOptions(stage="live", exchange="binance"))


def test_testnet_places_real_orders_on_the_test_network_with_the_contracts_capital(contract):
    config = cfg(contract, "testnet")
    assert config["dry_run"] is False
    assert config["available_capital"] == contract.capital.initial_capital
    assert config["exchange"]["enable_ws"] is False
    urls = config["exchange"]["ccxt_config"]["urls"]["api"]
    assert urls["private"].startswith("https://testnet.binance.vision/")


def test_risk_numbers_follow_the_contract_not_the_code():
    changed = contract_with(
        stop_loss__stoploss=-0.08,
        capital__max_open_trades=5,
        capital__initial_capital=2500,
        orders__time_in_force="IOC",
        orders__entry_type="market",
    )
    config = cfg(changed, "paper")
    assert config["stoploss"] == -0.08
    assert config["max_open_trades"] == 5
    assert config["dry_run_wallet"] == 2500
    assert config["order_time_in_force"] == {"entry": "IOC", "exit": "IOC"}
    assert config["order_types"]["entry"] == "market"
    assert config["entry_pricing"]["price_side"] == "other"
    assert risk_mismatches(config, changed, "paper", None) == []


def test_risk_mismatches_name_each_changed_number(contract):
    config = cfg(contract, "paper")
    config["stoploss"] = -0.2
    config["unfilledtimeout"]["entry"] = 99999
    lines = risk_mismatches(config, contract, "paper", None)
    assert any(line.startswith("stoploss: is -0.2, the contract gives -0.05") for line in lines)
    assert any(line.startswith("unfilledtimeout: is ") for line in lines)
    other = contract_with(stop_loss__stoploss=-0.07)
    assert any("contract edited after deploy" in line
               for line in risk_mismatches(config, other, "paper", None))  # fmt: skip


@pytest.mark.parametrize("stage", ["testnet", "paper", "live"])
def test_no_secret_in_the_config_and_secrets_come_from_the_environment(contract, stage):
    config = cfg(contract, stage)
    text = json.dumps(config, indent=2)
    assert scan_text(text, "config.json") == []
    ex = config["exchange"]
    assert not any(k in ex for k in ("key", "secret", "password", "uid"))
    assert config["api_server"]["password"] == ""
    assert "jwt_secret_key" not in config["api_server"]
    assert config["telegram"]["token"] == "" and config["telegram"]["enabled"] is False
    assert "url" not in config["webhook"] and "webhook_url" not in config["discord"]
    assert config["api_server"]["listen_ip_address"] == "127.0.0.1"


def test_package_filter_sits_in_exec_ext_and_pairlists_keep_builtins_only(contract):
    config = cfg(contract, "paper")
    assert config["pairlists"] == [{"method": "StaticPairList"}]
    assert config["exchange"]["pair_whitelist"] == list(PAIRS)
    ext = config["exec_ext"]
    assert ext["pairlists"] == [{"method": "ExecutionCostFilter"}]
    assert ext["risk_contract"] == ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
    assert ext["contract_sha256"] == contract.fingerprint() and ext["stage"] == "paper"
    without_pairs = build_config(contract, DeployOptions(stage="paper", exchange="binance"))
    assert without_pairs["pairlists"][0]["method"] == "VolumePairList"


def test_each_stage_has_its_own_database_and_rotating_log(contract):
    urls = {s: cfg(contract, s)["db_url"] for s in ("testnet", "paper", "live")}
    assert urls == {s: f"sqlite:///user_data/STR-001.{s}.sqlite" for s in urls}
    pg = cfg(contract, "paper", db="postgres")["db_url"]
    assert pg == "postgresql+psycopg://freqtrade@postgres:5432/str_001_paper"
    handler = cfg(contract, "live")["log_config"]["handlers"]["file"]
    assert handler["class"] == "logging.handlers.RotatingFileHandler"
    assert handler["maxBytes"] > 0 and handler["backupCount"] > 0


def test_alert_templates_format_with_freqtrades_message_fields(contract):
    """Every webhook template must format with the fields Freqtrade sends (a KeyError
    would only show up as a log line when the alert fires)."""
    from typing import get_type_hints

    from freqtrade.enums import RPCMessageType
    from freqtrade.rpc import rpc_types
    from freqtrade.rpc.webhook import Webhook

    samples = {
        datetime: datetime(2026, 1, 2, tzinfo=UTC),
        float: 0.0123,
        int: 7,
        bool: True,
        str: "x",
    }
    kinds = {
        "startup": rpc_types.RPCStatusMsg,
        "status": rpc_types.RPCStatusMsg,
        "warning": rpc_types.RPCStatusMsg,
        "exception": rpc_types.RPCStatusMsg,
        "entry_fill": rpc_types.RPCEntryMsg,
        "entry_cancel": rpc_types.RPCCancelMsg,
        "exit_fill": rpc_types.RPCExitMsg,
        "exit_cancel": rpc_types.RPCExitCancelMsg,
        "protection_trigger": rpc_types.RPCProtectionMsg,
        "protection_trigger_global": rpc_types.RPCProtectionMsg,
        "strategy_msg": rpc_types.RPCStrategyMsg,
        "liquidation_warning": rpc_types.RPCLiquidationWarningMsg,
    }
    templates = webhook_templates("STR-001 paper", futures=True)
    hook = Webhook.__new__(Webhook)
    for kind, template in templates.items():
        hints = get_type_hints(kinds[kind])
        msg = {k: samples.get(t, "x") for k, t in hints.items() if k != "type"}
        msg["type"] = RPCMessageType(kind)
        text = hook.recursive_format(template, msg)["text"]
        assert text.startswith("STR-001 paper")
    assert templates["strategy_msg"]["text"] == "STR-001 paper: {msg}"
    config = cfg(contract, "paper")
    assert config["webhook"]["allow_custom_messages"] is True
    assert config["discord"]["strategy_msg"][0] == {"Strategy message": "{msg}"}


def test_pairs_are_checked_against_the_contract(contract):
    assert parse_pairs("btc/usdt, ETH/USDT,BTC/USDT", contract) == PAIRS
    with pytest.raises(BuildError) as err:
        parse_pairs("BTC/EUR,nonsense,BTC/USDT:USDT", contract)
    text = "\n".join(err.value.lines)
    assert "BTC/EUR is not quoted in the contract's stake currency USDT" in text
    assert "'nonsense' is not a pair" in text
    assert "spot pairs have no ':SETTLE' part" in text


def test_another_exchange_than_the_contracts_is_refused(contract):
    with pytest.raises(BuildError, match="differs from the contract's market.exchange"):
        cfg(contract, "paper", exchange="kraken")


def test_exchange_without_testnet_says_so_and_offers_the_local_exchange():
    kraken = contract_with(market__exchange="kraken")
    with pytest.raises(BuildError) as err:
        cfg(kraken, "testnet", exchange="kraken")
    assert "kraken (spot) has no test environment" in err.value.lines[0]
    assert "--exchange local" in err.value.lines[0]
    # paper and live on kraken need no test environment
    assert cfg(kraken, "paper", exchange="kraken")["exchange"]["name"] == "kraken"


def test_local_exchange_is_loopback_and_never_live(contract):
    config = cfg(contract, "testnet", exchange="local", local_url="http://127.0.0.1:9999")
    urls = config["exchange"]["ccxt_config"]["urls"]["api"]
    assert all(u.startswith("http://127.0.0.1:9999/") for k, u in urls.items() if k != "ws")
    assert not {"key", "secret", "password", "uid"} & set(config["exchange"])
    # the local exchange matches orders: testnet trades live on it, keys from the environment
    assert config["dry_run"] is False
    assert config["available_capital"] == 1000.0
    assert cfg(contract, "paper", exchange="local")["dry_run"] is True
    with pytest.raises(BuildError, match="the live stage trades on the real exchange"):
        cfg(contract, "live", exchange="local")


def built_testnet_config(exchange: str, mode: str) -> dict:
    changes = {"market__exchange": exchange, "market__trading_mode": mode}
    if mode == "futures":
        changes["market__margin_mode"] = "isolated"
    contract = contract_with(**changes)
    pairs = ("BTC/USDT:USDT",) if mode == "futures" else ("BTC/USDT",)
    return build_config(contract, DeployOptions(stage="testnet", exchange=exchange, pairs=pairs))


def _hosts(client) -> set[str]:
    from urllib.parse import urlparse

    out = set()

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, str) and "://" in node:
            out.add(urlparse(node.replace("{hostname}", client.hostname or "")).hostname)

    walk(client.urls["api"])
    return out


@pytest.mark.parametrize(("exchange", "mode"), sorted(TESTNETS))
def test_testnet_hosts_are_ccxts_own_test_hosts(exchange, mode):
    """Each stage's hosts against ccxt's own ``urls`` (no network): the client Freqtrade
    builds from the generated config reaches only the hosts ccxt itself switches to for
    sandbox/demo trading (``urls['test']``, ``urls['demo']``, ``urls['demotrading']``), plus
    the closed local port; and carries the headers ccxt's own switch adds."""
    import ccxt

    config = built_testnet_config(exchange, mode)
    testnet = find_testnet(exchange, mode)
    ours = client_from_config(config["exchange"])
    raw = getattr(ccxt, exchange)()
    ccxt_test_urls = {k: raw.urls[k] for k in ("test", "demo", "demotrading") if k in raw.urls}
    holder = type("U", (), {"urls": {"api": ccxt_test_urls}, "hostname": raw.hostname})()
    assert _hosts(ours) - {"127.0.0.1"} <= _hosts(holder)
    assert _hosts(ours) - {"127.0.0.1"}, "no test host at all"
    assert not (_hosts(ours) & _hosts(raw)) or testnet.ccxt_switch == "sandbox"
    reference = getattr(ccxt, exchange)()
    if testnet.ccxt_switch == "sandbox":
        reference.set_sandbox_mode(True)
    else:
        reference.enable_demo_trading(True)
    for key, value in reference.headers.items():
        assert ours.headers.get(key) == value
    assert environment_problems(config["exchange"], testnet) == []
    assert config["exchange"]["enable_ws"] is False
    # and the check finds production when the overrides are missing
    assert environment_problems({"name": exchange}, testnet) != []


def test_okx_demo_trading_is_a_testnet_with_the_simulated_header():
    config = built_testnet_config("okx", "spot")
    ccxt_config = config["exchange"]["ccxt_config"]
    assert ccxt_config["headers"] == {"x-simulated-trading": "1"}
    assert ccxt_config["options"]["sandboxMode"] is True
    testnet = find_testnet("okx", "spot")
    without_header = {"name": "okx", "ccxt_config": {"options": {"sandboxMode": True}}}
    (problem,) = environment_problems(without_header, testnet)
    assert "x-simulated-trading: 1 missing" in problem


def test_binance_url_groups_match_the_installed_ccxt():
    import ccxt

    assert set(BINANCE_REST_GROUPS) == set(ccxt.binance().urls["api"])


def test_every_testnet_entry_names_its_sources():
    for testnet in TESTNETS.values():
        assert testnet.sources and all(s.strip() for s in testnet.sources)
        assert testnet.key_note


@pytest.mark.parametrize("stage", ["testnet", "paper", "live"])
def test_a_futures_contract_gives_a_valid_futures_config(strategy_attrs, stage):
    futures = contract_with(
        market__trading_mode="futures", market__margin_mode="isolated", leverage__max=3
    )
    config = build_config(
        futures,
        DeployOptions(stage=stage, exchange="binance", pairs=("BTC/USDT:USDT",)),
        live_capital=500.0 if stage == "live" else None,
    )
    assert (config["trading_mode"], config["margin_mode"]) == ("futures", "isolated")
    assert "liquidation_warning" in config["webhook"]
    assert freqtrade_problems(config, strategy_attrs) == []
