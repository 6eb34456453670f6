"""The registry, the config merge, and the supported-version guard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from freqtrade_exec_ext import compat


def test_supported_version_is_the_setup_cfg_pin(repo_root: Path) -> None:
    pin = re.search(r"freqtrade\[[^\]]*\]==(\S+)", (repo_root / "setup.cfg").read_text())
    assert pin is not None
    assert compat.supported_freqtrade_version() == pin.group(1)


def test_guard_names_the_supported_version_when_internals_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import freqtrade.resolvers.protection_resolver as pr

    monkeypatch.delattr(pr.ProtectionResolver, "load_protection")
    with pytest.raises(compat.FreqtradeCompatError) as err:
        compat.check_internals()
    from freqtrade.exceptions import OperationalException

    assert isinstance(err.value, OperationalException)  # freqtrade prints it as one line
    message = str(err.value)
    assert f"supports Freqtrade {compat.supported_freqtrade_version()} only" in message
    assert "ProtectionResolver.load_protection" in message
    assert f"freqtrade=={compat.supported_freqtrade_version()}" in message


def test_guard_passes_on_the_installed_freqtrade() -> None:
    assert compat.missing_internals() == []
    compat.check_internals()


def test_registry_makes_our_names_known_to_freqtrade(tmp_path: Path) -> None:
    from freqtrade import constants
    from freqtrade.configuration.config_validation import validate_config_schema
    from freqtrade.resolvers import PairListResolver, ProtectionResolver

    compat.install()
    assert compat.is_installed()
    assert "ExecutionCostFilter" in constants.AVAILABLE_PAIRLISTS
    names = {o["name"] for o in PairListResolver.search_all_objects({}, enum_failed=False)}
    assert {"ExecutionCostFilter", "StaticPairList"} <= names
    prot = {o["name"] for o in ProtectionResolver.search_all_objects({}, enum_failed=False)}
    assert {"SlippageGuard", "DailyLossGuard", "StoplossGuard"} <= prot

    # the schema enum now accepts our pairlist
    from freqtrade.enums import RunMode

    conf = {
        "runmode": RunMode.BACKTEST,
        "stake_currency": "USDT",
        "stake_amount": 10,
        "dry_run": True,
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]},
        "pairlists": [{"method": "StaticPairList"}, {"method": "ExecutionCostFilter"}],
    }
    validate_config_schema(conf, preliminary=True)


def test_uninstall_restores_freqtrade_and_install_is_idempotent() -> None:
    from freqtrade import constants
    from freqtrade.exceptions import OperationalException
    from freqtrade.resolvers import ProtectionResolver

    try:
        compat.uninstall()
        assert "ExecutionCostFilter" not in constants.AVAILABLE_PAIRLISTS
        with pytest.raises(OperationalException, match="Impossible to load Protection"):
            ProtectionResolver.load_protection("SlippageGuard", {}, {})
    finally:
        compat.install()
        compat.install()
    assert constants.AVAILABLE_PAIRLISTS.count("ExecutionCostFilter") == 1


def test_protection_resolver_loads_ours_and_still_finds_builtins(make_project, ft_config) -> None:
    from freqtrade.resolvers import ProtectionResolver

    config = ft_config(make_project())
    guard = ProtectionResolver.load_protection(
        "SlippageGuard", config, {"method": "SlippageGuard", "strategy_id": "STR-001"}
    )
    assert type(guard).__module__ == "freqtrade_exec_ext.plugins.slippage_guard"
    builtin = ProtectionResolver.load_protection(
        "CooldownPeriod", config, {"method": "CooldownPeriod", "stop_duration": 5}
    )
    assert builtin.name == "CooldownPeriod"


def test_merge_appends_once_and_rejects_bad_entries() -> None:
    ours = {"method": "ExecutionCostFilter", "sort_by_cost": True}
    config = {"pairlists": [{"method": "StaticPairList"}], "exec_ext": {"pairlists": [ours]}}
    assert compat.merge_exec_ext_pairlists(config) == ["ExecutionCostFilter"]
    assert compat.merge_exec_ext_pairlists(config) == []
    compat.on_strategy_init(config)
    assert [p["method"] for p in config["pairlists"]] == ["StaticPairList", "ExecutionCostFilter"]

    with pytest.raises(compat.ExecExtConfigError, match=r"exec_ext.pairlists\[0\].method"):
        compat.merge_exec_ext_pairlists(
            {
                "pairlists": [{"method": "StaticPairList"}],
                "exec_ext": {"pairlists": [{"method": "VolumePairList"}]},
            }
        )
    with pytest.raises(compat.ExecExtConfigError, match="needs a generator"):
        compat.merge_exec_ext_pairlists({"exec_ext": {"pairlists": [ours]}})
    from freqtrade.exceptions import OperationalException

    with pytest.raises(OperationalException, match="must be one of ExecutionCostFilter"):
        compat.on_strategy_init(
            {
                "pairlists": [{"method": "StaticPairList"}],
                "exec_ext": {"pairlists": [{"method": "AgeFilter"}]},
            }
        )
    # nothing to merge: untouched
    plain = {"pairlists": [{"method": "StaticPairList"}]}
    assert compat.merge_exec_ext_pairlists(plain) == []


def test_config_hook_merges_on_freqtrade_config_load(tmp_path: Path) -> None:
    from freqtrade.configuration import Configuration

    compat.install_config_hook()
    (tmp_path / "user_data").mkdir()
    conf = {
        "user_data_dir": str(tmp_path / "user_data"),
        "stake_currency": "USDT",
        "stake_amount": 10,
        "dry_run": True,
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]},
        "pairlists": [{"method": "StaticPairList"}],
        "exec_ext": {"pairlists": [{"method": "ExecutionCostFilter"}]},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(conf))
    loaded = Configuration.from_files([str(path)])
    assert [p["method"] for p in loaded["pairlists"]] == ["StaticPairList", "ExecutionCostFilter"]


def test_passthrough_reports_a_bad_exec_ext_section(tmp_path: Path, capsys) -> None:
    from freqtrade_exec_ext.cli.ft import run_passthrough

    (tmp_path / "user_data").mkdir()
    conf = {
        "user_data_dir": str(tmp_path / "user_data"),
        "stake_currency": "USDT",
        "stake_amount": 10,
        "dry_run": True,
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]},
        "pairlists": [{"method": "StaticPairList"}],
        "exec_ext": {"pairlists": [{"method": "Nope"}]},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(conf))
    code = run_passthrough(["test-pairlist", "-c", str(path)])
    assert code == 2
