"""Helpers for the deployment tests: stage databases built with Freqtrade's own
persistence models (no hand-written SQL), approvals, CLI calls."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support import make_order, make_trade

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


# ------------------------------------------------------------------ stage databases
def _engine(path: Path) -> Any:
    """An engine on the database file (fast writes: these databases are test fixtures)."""
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _fast(conn: Any, _record: Any) -> None:
        conn.execute("PRAGMA synchronous=OFF")

    return engine


def contract_sha(root: Path | None = None) -> str:
    from freqtrade_exec_ext.contract import load_contract

    base = root if root is not None else REPO
    path = base / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
    return load_contract(path).fingerprint()


def record_sessions(
    engine: Any,
    *,
    stage: str,
    dry_run: bool,
    start: datetime,
    days: float,
    contract: str,
    gaps: tuple[tuple[float, float], ...] = (),
    api_host: str = "127.0.0.1:8765",
    simulated: bool = False,
    every: timedelta = timedelta(minutes=4, seconds=30),
) -> None:
    """A bot's run sessions written through the recorder, as the strategy writes them:
    start, a heartbeat every ``every``, silence during ``gaps`` (hours from the start,
    (from, to)), stop at the end."""
    from freqtrade_exec_ext.store.sessions import SessionInfo, SessionRecorder

    rec = SessionRecorder(engine)
    rec.start(
        SessionInfo(
            strategy_id="STR-001", stage=stage, exchange="binance", api_host=api_host,
            simulated=simulated, dry_run=dry_run, contract_sha256=contract,
            config_sha256="c" * 64, bot_name=f"STR-001 {stage}", strategy="STR001",
        ),
        start,
    )  # fmt: skip
    end = start + timedelta(days=days)
    now = start
    while now + every <= end:
        now += every
        hours = (now - start).total_seconds() / 3600
        if not any(a <= hours < b for a, b in gaps):
            rec.heartbeat(now)
    rec.stop(end)


def _order(side: str, oid: str, when: datetime, *, status: str = "closed",
           filled: float = 1.0, price: float = 100.0) -> Any:  # fmt: skip
    return make_order(side, oid, when, status=status, filled=filled, price=price)


def build_stage_db(
    path: Path,
    *,
    stage: str = "paper",
    closed_trades: int = 1,
    open_trades: int = 0,
    rejected: int = 0,
    over_budget: int = 0,
    unreadable: int = 0,
    days: float = 0.5,
    start: datetime = START,
    gaps: tuple[tuple[float, float], ...] = (),
    losses: tuple[float, ...] = (),
    journal: bool = True,
    stoploss: bool = True,
    sessions: bool = True,
    contract: str | None = None,
    api_host: str = "127.0.0.1:8765",
) -> Path:
    """A Freqtrade database as a bot of ``stage`` leaves it: its run sessions, trades with
    filled entry and exit orders (ten minutes apart from the start), a stop-loss order on
    the exchange per trade (testnet), the order guard's journal (testnet), ledger records.
    ``losses``: profit of each closed trade (default +1)."""
    from freqtrade.persistence import Trade, init_db


    dry_run = stage == "paper"
    path.parent.mkdir(parents=True, exist_ok=True)
    init_db(f"sqlite:///{path}")
    engine = _engine(path)
    naive = start.replace(tzinfo=None)
    n_trades = closed_trades + open_trades + max(rejected, 0)
    oid = 0
    placed: list[tuple[str, str, str, datetime]] = []  # order id, ft side, intent, time

    def next_id(side: str) -> str:
        nonlocal oid
        oid += 1
        return f"dry_run_{side}_BTC/USDT_{oid}" if dry_run else str(100000 + oid)

    for idx in range(n_trades):
        is_open = idx >= closed_trades
        rejected_here = idx >= closed_trades + open_trades
        opened = naive + timedelta(minutes=10 * (2 * idx + 1))
        trade = make_trade(open_date=opened, is_open=is_open)
        buy = next_id("buy")
        status, filled = ("rejected", 0.0) if rejected_here else ("closed", 1.0)
        trade.orders.append(_order("buy", buy, opened, status=status, filled=filled))
        placed.append((buy, "buy", "entry", opened))
        if stoploss and not dry_run and not rejected_here:
            stop = next_id("stoploss")
            trade.orders.append(_order("stoploss", stop, opened, status="canceled", filled=0.0,
                                       price=95.0))  # fmt: skip
            placed.append((stop, "stoploss", "stoploss", opened))
        if not is_open and not rejected_here:
            closed = opened + timedelta(minutes=5)
            profit = losses[idx] if idx < len(losses) else 1.0
            sell = next_id("sell")
            trade.orders.append(_order("sell", sell, closed, price=100.0 + profit))
            placed.append((sell, "sell", "exit", closed))
            trade.close_date = closed
            trade.close_rate = 100.0 + profit
            trade.close_profit_abs = profit
            trade.exit_reason = "exit_signal"
        if rejected_here:
            trade.is_open = False
        Trade.session.add(trade)
        Trade.commit()
    _ledger(naive, closed_trades, over_budget, unreadable)
    Trade.session.remove()
    if journal and not dry_run:
        _journal(engine, placed)
    if sessions:
        record_sessions(
            engine, stage=stage, dry_run=dry_run, start=start, days=days,
            contract=contract or contract_sha(), gaps=gaps, api_host=api_host,
        )  # fmt: skip
    engine.dispose()
    return path


def _ledger(naive: datetime, closed_trades: int, over_budget: int, unreadable: int) -> None:
    from freqtrade.persistence import Trade
    from freqtrade.persistence.custom_data import _CustomData

    trades = Trade.session.query(Trade).order_by(Trade.id).all()
    ledger: list[tuple[Any, str, Any]] = []
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
        row.created_at = naive + timedelta(minutes=5)  # written while the bot ran, not now
    _CustomData.session.commit()


def _journal(engine: Any, placed: list[tuple[str, str, str, datetime]]) -> None:
    """The order guard's journal rows, written through its own API."""
    from freqtrade_exec_ext.store.journal import OrderJournal

    for n, (order_id, side, intent, when) in enumerate(placed):
        journal = OrderJournal(engine, "STR-001", clock=lambda when=when: when.replace(tzinfo=UTC))
        cid = f"x-exec{n:06d}"
        journal.record(cid, pair="BTC/USDT", side="sell" if side != "buy" else "buy",
                       intent=intent, order_type="limit", amount=1.0, price=100.0,
                       conditional=intent == "stoploss")  # fmt: skip
        journal.accepted(cid, order_id)
        journal.mark(cid, "tracked")


def make_testnet_db(root: Path, **kw: Any) -> Path:
    kw.setdefault("closed_trades", 2)
    kw.setdefault("contract", contract_sha(root))
    return build_stage_db(root / "user_data/STR-001.testnet.sqlite", stage="testnet", **kw)


_PAPER_CACHE: dict[str, Path] = {}


def make_paper_db(root: Path, **kw: Any) -> Path:
    """A paper database (15 days of heartbeats by default; built once per set of options)."""
    import tempfile

    kw.setdefault("days", 15.0)
    kw.setdefault("contract", contract_sha(root))
    target = root / "user_data/STR-001.paper.sqlite"
    key = repr(sorted(kw.items()))
    if key not in _PAPER_CACHE:
        cache = Path(tempfile.mkdtemp(prefix="exec-ext-paper-db-")) / "paper.sqlite"
        build_stage_db(cache, stage="paper", **kw)
        _PAPER_CACHE[key] = cache
    target.parent.mkdir(parents=True, exist_ok=True)
    copy_db(_PAPER_CACHE[key], target)
    return target


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database (its write-ahead log included)."""
    import sqlite3

    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def secrets_file(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def run_cli(*args: str) -> int:
    from freqtrade_exec_ext.cli.main import main

    return main(list(args))


def approve_live(
    root: Path, capital: float = 600.0, by: str = "Alice Example", accept: str | None = None
) -> Path:
    """Record an approval through the library (the CLI path is tested in test_approve)."""
    from freqtrade_exec_ext.contract import load_contract
    from freqtrade_exec_ext.deploy.approve import prepare, record

    contract = load_contract(root / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml")
    draft = prepare(
        root, contract, by=by, capital=capital,
        paper_url="sqlite:///user_data/STR-001.paper.sqlite", accept_reason=accept,
        now=datetime(2026, 1, 21, 8, 0, tzinfo=UTC),
    )  # fmt: skip
    return record(root, draft)


def make_ready(root: Path, stage: str) -> None:
    """Leave the evidence (and approval) that ``stage`` needs."""
    if stage in ("paper", "live"):
        make_testnet_db(root)
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
