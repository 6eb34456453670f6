"""ExecutionCostFilter inside Freqtrade's PairListManager (exchange network edge mocked)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest


def _book(mid: float, spread_bps: float, level_notional: float, levels: int = 20) -> dict:
    """A book with ``levels`` levels of ``level_notional`` each, 1 bps apart."""
    half = mid * spread_bps / 2 / 1e4
    step = mid * 1e-4
    asks = [
        [mid + half + k * step, level_notional / (mid + half + k * step)] for k in range(levels)
    ]
    bids = [
        [mid - half - k * step, level_notional / (mid - half - k * step)] for k in range(levels)
    ]
    return {"bids": bids, "asks": asks}


BOOKS = {
    "BTC/USDT": _book(100_000, 0.1, 200_000),  # deep and tight
    "ETH/USDT": _book(4_000, 20.0, 200_000),  # spread 20 bps
    "SOL/USDT": _book(200, 0.5, 20),  # 20 levels x 20 USDT: too thin for the stake
    "XRP/USDT": _book(2.5, 0.4, 60),  # depth within the budget too low
}


def _exchange(books: dict[str, dict] | None = None, fail: set[str] | None = None) -> MagicMock:
    books = BOOKS if books is None else books
    exchange = MagicMock()

    def fetch(pair: str, limit: int = 100) -> dict:
        if fail and pair in fail:
            raise ConnectionError("exchange unreachable")
        return books[pair]

    exchange.fetch_l2_order_book.side_effect = fetch
    return exchange


def _manager(config: dict[str, Any], exchange: MagicMock) -> Any:
    from freqtrade.plugins.pairlistmanager import PairListManager

    exchange.get_markets.return_value = {p: {} for p in BOOKS}
    exchange.exchange_has.return_value = True
    pm = PairListManager.__new__(PairListManager)  # the chain without market validation
    from freqtrade.resolvers import PairListResolver

    return [
        PairListResolver.load_pairlist(
            c["method"],
            exchange=exchange,
            pairlistmanager=pm,
            config=config,
            pairlistconfig=c,
            pairlist_pos=i,
        )
        for i, c in enumerate(config["pairlists"])
    ]


@pytest.fixture
def project(make_project):  # stake 300 (STR-001's max_stake), spread <= 10, entry <= 15 bps
    return make_project({"sizing": {"max_stake": 1000, "min_stake": 10}})


def _filter(config: dict[str, Any], params: dict[str, Any] | None = None, **kw: Any) -> Any:
    from freqtrade_exec_ext import compat

    config["pairlists"] = [{"method": "StaticPairList"}]
    config["exec_ext"] = {"pairlists": [{"method": "ExecutionCostFilter", **(params or {})}]}
    compat.on_strategy_init(config)
    handlers = _manager(config, _exchange(**kw))
    return handlers[1]


def test_removes_each_pair_for_its_own_reason(project: Path, ft_config, caplog) -> None:
    caplog.set_level(logging.INFO)
    flt = _filter(ft_config(project))
    assert flt._stake == 1000  # the contract's max_stake (method risk_per_trade)
    kept = flt.filter_pairlist(list(BOOKS), {})
    assert kept == ["BTC/USDT"]
    text = caplog.text
    # the mixin's reason codes, with the numbers behind them
    assert "Removed ETH/USDT from whitelist: SPREAD_TOO_WIDE: spread_bps=20, max=10" in text
    assert "Removed SOL/USDT from whitelist: BOOK_TOO_THIN: stake=1000, visible=400" in text
    assert "Removed XRP/USDT from whitelist: DEPTH_TOO_LOW: depth_within_bps=15" in text


def test_unreachable_book_removes_the_pair(project: Path, ft_config, caplog) -> None:
    caplog.set_level(logging.INFO)
    flt = _filter(ft_config(project), fail={"BTC/USDT"})
    assert "BTC/USDT" not in flt.filter_pairlist(["BTC/USDT"], {})
    assert "BOOK_UNAVAILABLE: error=ConnectionError" in caplog.text


def test_sort_by_cost_ranks_cheapest_first(project: Path, ft_config) -> None:
    books = {
        "BTC/USDT": _book(100_000, 2.0, 200_000),
        "ETH/USDT": _book(4_000, 0.5, 200_000),
        "SOL/USDT": _book(200, 1.0, 200_000),
        "XRP/USDT": _book(2.5, 4.0, 200_000),
    }
    flt = _filter(ft_config(project), {"sort_by_cost": True}, books=books)
    assert flt.filter_pairlist(list(books), {}) == ["ETH/USDT", "SOL/USDT", "BTC/USDT", "XRP/USDT"]


def test_parameters_may_only_tighten_the_contract(project: Path, ft_config) -> None:
    from freqtrade.exceptions import OperationalException

    flt = _filter(ft_config(project), {"max_spread_bps": 0.05, "stake_amount": 2000})
    assert flt._limits.max_spread_bps == 0.05 and flt._stake == 2000
    assert flt.filter_pairlist(["BTC/USDT"], {}) == []  # 0.1 bps spread > 0.05
    with pytest.raises(OperationalException, match="max_entry_bps: 50 would loosen"):
        _filter(ft_config(project), {"max_entry_bps": 50})
    with pytest.raises(OperationalException, match="stake_amount: 10 would loosen"):
        _filter(ft_config(project), {"stake_amount": 10})


def test_missing_contract_is_one_clear_error(tmp_path: Path, ft_config, monkeypatch) -> None:
    from freqtrade.exceptions import OperationalException

    monkeypatch.chdir(tmp_path)  # the repo's own contract must not be found via the cwd
    (tmp_path / "user_data").mkdir()
    with pytest.raises(
        OperationalException, match="ExecutionCostFilter: risk contract for STR-001"
    ):
        _filter(ft_config(tmp_path / "user_data"))


def test_declares_parameters_like_builtin_pairlists() -> None:
    from freqtrade_exec_ext.plugins.execution_cost_filter import ExecutionCostFilter

    params = ExecutionCostFilter.available_parameters()
    assert {
        "max_spread_bps",
        "max_entry_bps",
        "stake_amount",
        "sort_by_cost",
        "backtest_mode",
    } <= set(params)
    for spec in params.values():
        assert spec["type"] in ("number", "string", "option", "boolean", "list")
        assert spec["description"] and spec["help"]
    assert ExecutionCostFilter.description()


def test_declared_defaults_are_the_defaults_in_effect(project: Path, ft_config) -> None:
    """available_parameters() and the filter read one model: what the UI shows is what runs."""
    from freqtrade_exec_ext.plugins.execution_cost_filter import ExecutionCostFilter

    declared = ExecutionCostFilter.available_parameters()
    flt = _filter(ft_config(project))
    in_effect = {
        "order_book_depth": flt._depth_levels,
        "sort_by_cost": flt._sort,
        "backtest_mode": flt._backtest_mode,
        "proxy_lookback_candles": flt._lookback,
        "min_depth_multiple": flt._limits.min_depth_multiple,
    }
    assert {k: declared[k]["default"] for k in in_effect} == in_effect
    assert declared["backtest_mode"]["options"] == ["candle_proxy", "pass"]
    # unset limits fall back to the contract, which the UI says with a None default
    assert all(declared[k]["default"] is None for k in ("max_spread_bps", "max_entry_bps"))
    assert flt._limits.max_spread_bps == 10 and flt._limits.max_entry_bps == 15


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"order_book_depth": 0}, "order_book_depth: .* was 0 .allowed: a number >= 1 and <= 5000"),
        (
            {"backtest_mode": "live"},
            "backtest_mode: .* was 'live' .allowed: one of candle_proxy, pass",
        ),
        ({"max_spred_bps": 3}, "unknown parameter 'max_spred_bps' .allowed: backtest_mode, "),
        ({"sort_by_cost": "yes"}, "sort_by_cost: .* was 'yes' .allowed: true or false"),
        ({"max_entry_bps": True}, "max_entry_bps: .* was True .allowed: a number > 0"),
    ],
)
def test_bad_parameter_is_one_line_naming_it(project: Path, ft_config, params, message) -> None:
    from freqtrade.exceptions import OperationalException

    with pytest.raises(OperationalException, match=f"^ExecutionCostFilter: {message}") as err:
        _filter(ft_config(project), params)
    assert "\n" not in str(err.value)


def test_backtest_uses_only_candles_before_the_start(
    make_project, ft_config, repo_root: Path, caplog
) -> None:
    from freqtrade.plugins.pairlist.IPairList import SupportsBacktesting

    caplog.set_level(logging.INFO)
    # a stake so large that the thinner pairs fail the square-root-law proxy
    user_data = make_project(
        {
            "sizing": {"method": "fixed_stake", "fixed_stake": 1_100_000, "max_stake": 1_100_000},
            "capital": {"initial_capital": 10_000_000},
        }
    )
    config = ft_config(
        user_data,
        "backtest",
        datadir=repo_root / "user_data/data/binance",
        timerange="20251001-20251010",
    )
    flt = _filter(config)
    assert flt.supports_backtesting == SupportsBacktesting.YES
    assert "using a CANDLE PROXY" in caplog.text
    kept = flt.filter_pairlist(list(BOOKS), {})
    assert "BTC/USDT" in kept and len(kept) < 4
    assert "[candle proxy]" in caplog.text
    flt._exchange.fetch_l2_order_book.assert_not_called()  # no look-ahead through the live book

    # the proxy only reads candles that closed before the start
    from freqtrade_exec_ext import compat

    start = compat.timerange_start(config)
    df = compat.load_candles_before(config, "BTC/USDT", "5m", start, 288)
    assert len(df) == 288 and df["date"].max() < start


def test_backtest_pass_mode_declares_no_action(project: Path, ft_config, caplog) -> None:
    from freqtrade.plugins.pairlist.IPairList import SupportsBacktesting

    flt = _filter(ft_config(project, "backtest"), {"backtest_mode": "pass"})
    assert flt.supports_backtesting == SupportsBacktesting.NO_ACTION
    assert flt.filter_pairlist(list(BOOKS), {}) == list(BOOKS)
    assert "backtest_mode 'pass' keeps every pair" in caplog.text


def test_listed_by_freqtrades_pairlist_api() -> None:
    from freqtrade.rpc.api_server.api_pairlists import list_pairlists
    from freqtrade.rpc.api_server.api_schemas import PairListsResponse

    from freqtrade_exec_ext import compat

    compat.install()
    response = PairListsResponse.model_validate(list_pairlists(config={}))
    ours = [p for p in response.pairlists if p.name == "ExecutionCostFilter"]
    assert len(ours) == 1 and not ours[0].is_pairlist_generator
    assert "max_entry_bps" in ours[0].params
