"""SlippageGuard, DailyLossGuard and build_protections with Freqtrade's own trade models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from freqtrade_exec_ext import compat  # noqa: F401  (installs the registry, as the mixin does)
from freqtrade_exec_ext.contract import load_contract
from freqtrade_exec_ext.execution.ledger import FillRecord
from freqtrade_exec_ext.plugins.protection_config import build_protections

NOW = datetime(2025, 10, 2, 15, 0, tzinfo=UTC)


def _record(order_id: str, pair: str, filled: datetime, slip: float, over: bool) -> FillRecord:
    return FillRecord(
        strategy_id="STR-001",
        pair=pair,
        side="buy",
        intent="entry",
        is_short=False,
        order_type="limit",
        order_id=order_id,
        trade_id=None,
        runmode="backtest",
        decision_price=100.0,
        decision_time=filled.isoformat(),
        arrival_mid=None,
        arrival_spread_bps=None,
        requested_price=100.0,
        fill_price=100.0 * (1 + slip / 1e4),
        filled_amount=1.0,
        ordered_amount=1.0,
        notional=100.0,
        slippage_decision_bps=slip,
        slippage_arrival_bps=None,
        spread_cost_bps=None,
        fee_cost=None,
        fee_currency=None,
        fee_rate=None,
        liquidity=None,
        fee_inferred=True,
        funding_fees=0.0,
        reprice_count=0,
        placed_time=filled.isoformat(),
        filled_time=filled.isoformat(),
        time_to_fill_s=0.0,
        slippage_budget_bps=15.0,
        over_budget=over,
    )


def _trade(
    trade_cls: Any,
    tid: int,
    pair: str,
    opened: datetime,
    closed: datetime | None,
    profit_abs: float = 0.0,
) -> Any:
    trade = trade_cls(
        id=tid,
        pair=pair,
        stake_amount=100.0,
        amount=1.0,
        open_rate=100.0,
        open_date=opened,
        fee_open=0.001,
        fee_close=0.001,
        exchange="binance",
        is_open=closed is None,
        close_date=closed,
        close_rate=100.0 if closed else None,
        close_profit_abs=profit_abs if closed else None,
        close_profit=profit_abs / 100.0,
        exit_reason="exit_signal" if closed else None,
        trading_mode="spot",
    )
    return trade


@pytest.fixture
def backtest_memory() -> Iterator[None]:
    """Freqtrade's backtest mode: trades, locks and custom data held in memory."""
    from freqtrade.persistence import CustomDataWrapper, LocalTrade, PairLocks
    from freqtrade.persistence.usedb_context import FtNoDBContext

    with FtNoDBContext("5m"):
        LocalTrade.reset_trades()
        PairLocks.reset_locks()
        CustomDataWrapper.reset_custom_data()
        yield
        LocalTrade.reset_trades()
        PairLocks.reset_locks()
        CustomDataWrapper.reset_custom_data()


def _manager(config: dict[str, Any], contract_path: Path) -> Any:
    from freqtrade.plugins.protectionmanager import ProtectionManager

    return ProtectionManager(config, build_protections(load_contract(contract_path)))


def test_build_protections_reads_every_limit_from_the_contract(str001_contract_path: Path) -> None:
    c = load_contract(str001_contract_path)
    prots = {p["method"]: p for p in build_protections(c)}
    assert list(prots) == ["MaxDrawdown", "StoplossGuard", "SlippageGuard", "DailyLossGuard"]
    assert prots["MaxDrawdown"]["max_allowed_drawdown"] == c.limits.max_drawdown
    assert prots["StoplossGuard"]["trade_limit"] == c.limits.max_consecutive_stoplosses
    assert prots["SlippageGuard"]["strategy_id"] == c.strategy_id


def test_protection_manager_loads_all_four(
    make_project, ft_config, str001_contract_path: Path
) -> None:
    pm = _manager(ft_config(make_project(), "backtest"), str001_contract_path)
    assert pm.name_list == ["MaxDrawdown", "StoplossGuard", "SlippageGuard", "DailyLossGuard"]
    descs = {k: v for d in pm.short_desc() for k, v in d.items()}
    assert "15 / exit 30 bps" in descs["SlippageGuard"] or "entry 15" in descs["SlippageGuard"]
    assert "5.00% of 1,000.00 USDT" in descs["DailyLossGuard"]


def test_slippage_guard_locks_pair_after_n_breaches_in_backtest_memory(
    backtest_memory: None, make_project, ft_config, str001_contract_path: Path
) -> None:
    from freqtrade.persistence import LocalTrade, PairLocks

    pm = _manager(ft_config(make_project(), "backtest"), str001_contract_path)
    # two breaches in the window, one too old, one within budget
    fills = [
        (NOW - timedelta(minutes=30), 40.0, True),
        (NOW - timedelta(minutes=90), 25.0, True),
        (NOW - timedelta(hours=9), 60.0, True),  # outside the 6 h lookback
        (NOW - timedelta(minutes=10), 3.0, False),
    ]
    for i, (when, slip, over) in enumerate(fills, start=1):
        trade = _trade(LocalTrade, i, "XRP/USDT", when, when + timedelta(minutes=5))
        LocalTrade.add_bt_trade(trade)
        rec = _record(f"o{i}", "XRP/USDT", when, slip, over)
        trade.set_custom_data(rec.custom_data_key, rec.to_json())
    assert pm.stop_per_pair("XRP/USDT", now=NOW) is None

    # a third over-budget fill, still on an open trade: lock
    when = NOW - timedelta(minutes=1)
    trade = _trade(LocalTrade, 9, "XRP/USDT", when, None)
    LocalTrade.add_bt_trade(trade)
    rec = _record("o9", "XRP/USDT", when, 22.0, True)
    trade.set_custom_data(rec.custom_data_key, rec.to_dict())  # dicts are read too
    lock = pm.stop_per_pair("XRP/USDT", now=NOW)
    assert lock is not None and lock.pair == "XRP/USDT"
    # 2 h stop, rounded up to the next candle by Freqtrade's PairLocks
    assert NOW + timedelta(minutes=120) <= lock.lock_end_time <= NOW + timedelta(minutes=125)
    assert "3 fills over the slippage budget in 360 minutes (worst 40.0 bps)" in lock.reason
    assert PairLocks.is_pair_locked("XRP/USDT", NOW + timedelta(minutes=5))
    assert not PairLocks.is_pair_locked("BTC/USDT", NOW + timedelta(minutes=5))
    # across pairs the same three breaches lock everything (only_per_pair is False)
    assert pm.global_stop(now=NOW) is not None
    assert PairLocks.is_global_lock(NOW + timedelta(minutes=5))


def test_slippage_guard_future_fills_are_ignored(
    backtest_memory: None, make_project, ft_config, str001_contract_path: Path
) -> None:
    from freqtrade.persistence import LocalTrade

    pm = _manager(ft_config(make_project(), "backtest"), str001_contract_path)
    for i in range(3):
        when = NOW + timedelta(minutes=5 + i)  # after date_now: not known yet
        trade = _trade(LocalTrade, i + 1, "SOL/USDT", when, None)
        LocalTrade.add_bt_trade(trade)
        rec = _record(f"f{i}", "SOL/USDT", when, 50.0, True)
        trade.set_custom_data(rec.custom_data_key, rec.to_json())
    assert pm.stop_per_pair("SOL/USDT", now=NOW) is None


def test_slippage_guard_tightened_budget_counts_more_breaches(
    backtest_memory: None, make_project, ft_config
) -> None:
    from freqtrade.persistence import LocalTrade
    from freqtrade.resolvers import ProtectionResolver

    config = ft_config(make_project(), "backtest")
    guard = ProtectionResolver.load_protection(
        "SlippageGuard",
        config,
        {"method": "SlippageGuard", "trade_limit": 2, "max_entry_bps": 5, "only_per_pair": True},
    )
    for i in range(2):
        when = NOW - timedelta(minutes=10 + i)
        trade = _trade(LocalTrade, i + 1, "ETH/USDT", when, None)
        LocalTrade.add_bt_trade(trade)
        rec = _record(f"t{i}", "ETH/USDT", when, 8.0, False)  # within 15, above 5
        trade.set_custom_data(rec.custom_data_key, rec.to_json())
    assert guard.stop_per_pair("ETH/USDT", NOW, "long", 1000.0) is not None
    assert guard.global_stop(NOW, "long", 1000.0) is None  # only_per_pair


def test_slippage_guard_reads_the_live_database(
    make_project, ft_config, str001_contract_path: Path
) -> None:
    from freqtrade.persistence import PairLocks, Trade, init_db

    init_db("sqlite://")
    PairLocks.timeframe = "5m"  # set by FreqtradeBot in trade mode
    try:
        pm = _manager(ft_config(make_project(), "dry_run"), str001_contract_path)
        for i in range(3):
            when = NOW - timedelta(minutes=20 * (i + 1))
            trade = _trade(Trade, i + 1, "BTC/USDT", when.replace(tzinfo=None), None)
            Trade.session.add(trade)
            Trade.commit()
            rec = _record(f"db{i}", "BTC/USDT", when, 30.0, True)
            trade.set_custom_data(rec.custom_data_key, rec.to_json())
        lock = pm.stop_per_pair("BTC/USDT", now=NOW)
        assert lock is not None
        assert [lk.pair for lk in PairLocks.get_pair_locks(None, NOW)] == ["BTC/USDT"]
    finally:
        PairLocks.timeframe = ""
        Trade.session.rollback()
        Trade.session.remove()


def test_daily_loss_guard_locks_until_midnight(
    backtest_memory: None, make_project, ft_config, str001_contract_path: Path
) -> None:
    from freqtrade.persistence import LocalTrade, PairLocks

    c = load_contract(str001_contract_path)
    max_loss = c.limits.daily_loss_limit * c.capital.initial_capital
    from freqtrade.plugins.protectionmanager import ProtectionManager

    only_daily = [p for p in build_protections(c) if p["method"] == "DailyLossGuard"]
    pm = ProtectionManager(ft_config(make_project(), "backtest"), only_daily)
    yesterday = NOW - timedelta(days=1)
    LocalTrade.add_bt_trade(_trade(LocalTrade, 1, "BTC/USDT", yesterday, yesterday, -10 * max_loss))
    LocalTrade.add_bt_trade(
        _trade(
            LocalTrade,
            2,
            "ETH/USDT",
            NOW - timedelta(hours=3),
            NOW - timedelta(hours=2),
            -0.6 * max_loss,
        )
    )
    assert pm.global_stop(now=NOW) is None  # yesterday's loss does not count
    LocalTrade.add_bt_trade(
        _trade(
            LocalTrade,
            3,
            "SOL/USDT",
            NOW - timedelta(hours=1),
            NOW - timedelta(minutes=5),
            -0.5 * max_loss,
        )
    )
    lock = pm.global_stop(now=NOW)
    assert lock is not None and lock.pair == "*"
    assert lock.lock_end_time == datetime(2025, 10, 3, tzinfo=UTC)
    assert "realized loss today" in lock.reason and "daily_loss_limit 5.00%" in lock.reason
    assert PairLocks.is_global_lock(NOW + timedelta(hours=8))
    assert not PairLocks.is_global_lock(datetime(2025, 10, 3, 0, 1, tzinfo=UTC))


def test_daily_loss_guard_cannot_be_loosened(make_project, ft_config) -> None:
    from freqtrade.exceptions import OperationalException
    from freqtrade.resolvers import ProtectionResolver

    with pytest.raises(OperationalException, match="daily_loss_limit: 0.5 would loosen"):
        ProtectionResolver.load_protection(
            "DailyLossGuard",
            ft_config(make_project(), "backtest"),
            {"method": "DailyLossGuard", "daily_loss_limit": 0.5},
        )


def test_slippage_guard_reads_the_backtest_ledger_file_incrementally(
    backtest_memory: None, make_project, ft_config
) -> None:
    from freqtrade.resolvers import ProtectionResolver

    from freqtrade_exec_ext.store.ledger_files import backtest_ledger_path

    user_data = make_project()
    config = ft_config(user_data, "backtest")
    ledger = backtest_ledger_path(user_data / "backtest_results", "STR001")
    ledger.parent.mkdir(parents=True)
    ledger.write_text("")
    guard = ProtectionResolver.load_protection(
        "SlippageGuard", config, {"method": "SlippageGuard", "trade_limit": 2}
    )
    first = _record("l1", "SOL/USDT", NOW - timedelta(minutes=30), 20.0, True)
    future = _record("l3", "SOL/USDT", NOW + timedelta(minutes=5), 20.0, True)
    second = _record("l2", "SOL/USDT", NOW - timedelta(minutes=10), 20.0, True)
    with ledger.open("a") as fh:
        fh.write(first.to_json() + "\n" + future.to_json() + "\n")
        fh.write(second.to_json()[:40])  # the mixin is mid-write: not read yet
    assert guard.stop_per_pair("SOL/USDT", NOW, "long", 1000.0) is None
    with ledger.open("a") as fh:
        fh.write(second.to_json()[40:] + "\n")
    lock = guard.stop_per_pair("SOL/USDT", NOW, "long", 1000.0)
    assert lock is not None and "2 fills over the slippage budget" in lock.reason
    assert guard.stop_per_pair("BTC/USDT", NOW, "long", 1000.0) is None
    ledger.write_text("")  # a new backtest truncates the file: old records are dropped
    assert guard.stop_per_pair("SOL/USDT", NOW, "long", 1000.0) is None
