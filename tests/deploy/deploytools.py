"""Helpers for the deployment tests: stage databases built with Freqtrade's own
persistence models (no hand-written SQL), approvals, CLI calls."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.execution.ledger import FillRecord

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
COMPOSE_SCHEMA = DATA / "compose-spec.json"
START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)

LEDGER_TEMPLATE = FillRecord(
    strategy_id="STR-001",
    pair="BTC/USDT",
    side="buy",
    intent="entry",
    is_short=False,
    order_type="limit",
    order_id="x",
    trade_id=1,
    runmode="dry_run",
    decision_price=100.0,
    decision_time=None,
    arrival_mid=100.0,
    arrival_spread_bps=1.0,
    requested_price=100.0,
    fill_price=100.0,
    filled_amount=1.0,
    ordered_amount=1.0,
    notional=100.0,
    slippage_decision_bps=0.0,
    slippage_arrival_bps=0.0,
    spread_cost_bps=0.5,
    fee_cost=0.1,
    fee_currency="USDT",
    fee_rate=0.001,
    liquidity="maker",
    fee_inferred=False,
    funding_fees=0.0,
    reprice_count=0,
    placed_time=None,
    filled_time=None,
    time_to_fill_s=1.0,
    slippage_budget_bps=15.0,
    over_budget=False,
)


def build_stage_db(
    path: Path,
    *,
    closed_trades: int = 1,
    open_trades: int = 0,
    rejected: int = 0,
    over_budget: int = 0,
    unreadable: int = 0,
    days: float = 0.5,
    start: datetime = START,
) -> Path:
    """A Freqtrade database as a bot would leave it: trades with filled entry and exit
    orders, ledger records in trade_custom_data, the bot's start time and daily wallet
    snapshots covering ``days``."""
    from freqtrade.persistence import KeyValueStore, Order, Trade, WalletHistory, init_db
    from freqtrade.persistence.custom_data import _CustomData

    path.parent.mkdir(parents=True, exist_ok=True)
    init_db(f"sqlite:///{path}")
    naive = start.replace(tzinfo=None)
    end = naive + timedelta(days=days)
    KeyValueStore.store_value("bot_start_time", naive)
    KeyValueStore.store_value("startup_time", naive)
    n_trades = closed_trades + open_trades + max(rejected, 0)
    step = (end - naive) / max(n_trades + 1, 1)
    oid = 0
    for idx in range(n_trades):
        is_open = idx >= closed_trades
        opened = naive + step * (idx + 1) * 0.5
        trade = Trade(
            pair="BTC/USDT",
            base_currency="BTC",
            stake_currency="USDT",
            exchange="binance",
            stake_amount=100.0,
            amount=1.0,
            open_rate=100.0,
            open_date=opened,
            fee_open=0.001,
            fee_close=0.001,
            is_open=is_open,
            strategy="STR001",
            timeframe=5,
        )
        rejected_here = idx >= closed_trades + open_trades
        oid += 1
        trade.orders.append(
            Order(
                ft_order_side="buy",
                ft_pair="BTC/USDT",
                ft_is_open=False,
                ft_amount=1.0,
                ft_price=100.0,
                order_id=f"o{oid}",
                status="rejected" if rejected_here else "closed",
                symbol="BTC/USDT",
                order_type="limit",
                side="buy",
                price=100.0,
                average=None if rejected_here else 100.0,
                amount=1.0,
                filled=0.0 if rejected_here else 1.0,
                remaining=1.0 if rejected_here else 0.0,
                order_date=opened,
                order_filled_date=None if rejected_here else opened,
            )
        )
        if not is_open and not rejected_here:
            oid += 1
            closed = opened + step * 0.4
            trade.orders.append(
                Order(
                    ft_order_side="sell",
                    ft_pair="BTC/USDT",
                    ft_is_open=False,
                    ft_amount=1.0,
                    ft_price=101.0,
                    order_id=f"o{oid}",
                    status="closed",
                    symbol="BTC/USDT",
                    order_type="limit",
                    side="sell",
                    price=101.0,
                    average=101.0,
                    amount=1.0,
                    filled=1.0,
                    remaining=0.0,
                    order_date=closed,
                    order_filled_date=closed,
                )
            )
            trade.close_date = closed
            trade.close_rate = 101.0
            trade.exit_reason = "exit_signal"
        if rejected_here:
            trade.is_open = False
        Trade.session.add(trade)
        Trade.commit()
    trades = Trade.session.query(Trade).order_by(Trade.id).all()
    ledger: list[tuple[Trade, str, Any]] = []
    for idx in range(over_budget + unreadable):
        trade = trades[idx % len(trades)]
        if idx < over_budget:
            rec = replace(LEDGER_TEMPLATE, order_id=f"bad{idx}", over_budget=True)
            ledger.append((trade, f"exec_ext.fill.bad{idx}", rec.to_dict()))
        else:
            ledger.append((trade, f"exec_ext.fill.unreadable{idx}", "{not json"))
    for trade in trades[:closed_trades]:
        rec = replace(LEDGER_TEMPLATE, order_id=f"ok{trade.id}", trade_id=trade.id)
        ledger.append((trade, f"exec_ext.fill.ok{trade.id}", rec.to_dict()))
    for trade, key, value in ledger:
        trade.set_custom_data(key, value)
    for row in _CustomData.session.query(_CustomData).all():
        row.created_at = naive + step * 0.25  # written while the bot ran, not now
    _CustomData.session.commit()
    day = naive.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day <= end:
        WalletHistory.session.add(
            WalletHistory(
                timestamp=day, currency="USDT", quote_currency="USDT", rate=1.0, balance=1000.0
            )
        )
        day += timedelta(days=1)
    WalletHistory.session.commit()
    # a last sign of life at ``end`` (a wallet snapshot is only written once a day)
    KeyValueStore.store_value("startup_time", end)
    Trade.session.remove()
    return path


def make_testnet_db(root: Path, **kw: Any) -> Path:
    return build_stage_db(root / "user_data/STR-001.testnet.sqlite", **kw)


def make_paper_db(root: Path, **kw: Any) -> Path:
    kw.setdefault("days", 15.0)
    return build_stage_db(root / "user_data/STR-001.paper.sqlite", **kw)


def secrets_file(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def run_cli(*args: str) -> int:
    from freqtrade_exec_ext.cli.main import main

    return main(list(args))


def approve_live(root: Path, capital: float = 600.0, by: str = "Alice Example") -> Path:
    """Record an approval through the library (the CLI path is tested in test_approve)."""
    from freqtrade_exec_ext.contract import load_contract
    from freqtrade_exec_ext.deploy.approval import new_approval, write_approval
    from freqtrade_exec_ext.deploy.evidence import read_evidence

    contract = load_contract(root / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml")
    paper = read_evidence("sqlite:///user_data/STR-001.paper.sqlite", root)
    approval = new_approval(
        contract,
        by=by,
        capital=capital,
        paper_evidence=paper.to_dict(),
        now=datetime(2026, 1, 21, 8, 0, tzinfo=UTC),
    )
    path = root / ".crypto/knowledge/strategies/STR-001/approvals/live.json"
    write_approval(path, approval)
    return path


def make_ready(root: Path, stage: str) -> None:
    """Leave the evidence (and approval) that ``stage`` needs."""
    if stage in ("paper", "live"):
        make_testnet_db(root, closed_trades=1)
    if stage == "live":
        make_paper_db(root, closed_trades=4, days=15.0)
        approve_live(root)


def deploy(root: Path, stage: str, *extra: str) -> int:
    return run_cli(
        "deploy", "STR-001", "--stage", stage, "--root", str(root), "--pairs",
        "BTC/USDT,ETH/USDT", *extra,
    )  # fmt: skip


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


DEPLOYMENT = Path(".crypto/knowledge/strategies/STR-001/deployment")
