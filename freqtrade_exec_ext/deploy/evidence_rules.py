"""What a stage's database proves: the testnet and paper evidence rules (pure).

Input: the facts of :mod:`~freqtrade_exec_ext.deploy.evidence` (no I/O here, no clock).
A stage's evidence is the **run sessions** the bot recorded itself
(:mod:`freqtrade_exec_ext.store.sessions`); the orders and trades only count when they
fall inside them.  Positives (fills, closed trades, stop-losses, time covered) must come
from the qualifying sessions; failures count wherever they are in the database.

**Testnet evidence**: sessions with ``dry_run: false``, recorded by the testnet stage's bot,
against a host of ccxt's own test client for the exchange (or the local exchange on
127.0.0.1), on the current contract; at least :data:`~.stages.TESTNET_MIN_FILLED_ORDERS`
filled orders and :data:`~.stages.TESTNET_MIN_CLOSED_TRADES` closed trade in them, at least
one stop-loss order placed on the exchange, every one of them matching a row of the order
guard's journal (the guard writes one before it sends any order), and no failed check.

**Paper evidence**: dry-run sessions recorded by the paper stage's bot on the current
contract, whose heartbeats cover :data:`~.stages.PAPER_MIN_DAYS` days with no gap over
:data:`MAX_GAP` (the gaps are listed), with at least
:data:`~.stages.PAPER_MIN_CLOSED_TRADES` closed trade.  Its **breaches** (failed checks, and
a realised drawdown over ``limits.max_drawdown``) block the live stage unless a human
accepted them in the approval.

**Failed checks** (the one definition): an order the exchange rejected
(``status = 'rejected'``), a fill over the contract's slippage budget (ledger record with
``over_budget: true``), and a ledger record that cannot be read (it cannot be checked).

A database that disagrees with its sessions (an order placed outside every session, a
dry-run order id in a testnet run, an exchange order id in a paper run, a filled order
the journal never saw) is refused, one line per finding.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.deploy.evidence import StageDb
from freqtrade_exec_ext.deploy.evidence_model import (
    FAILED_CHECKS_DOC,
    MAX_GAP,
    NO_SESSIONS,
    Counted,
    SandboxHosts,
    StageEvidence,
    Verdict,
    build_evidence,
    count_sessions,
    disagreements,
    drawdown,
    on_test_environment,
    plural,
    span,
)
from freqtrade_exec_ext.store.sessions import RunSession

__all__ = [
    "FAILED_CHECKS_DOC",
    "SandboxHosts",
    "StageEvidence",
    "Verdict",
    "paper_verdict",
    "testnet_verdict",
]


def testnet_verdict(db: StageDb, *, contract: str, env: SandboxHosts) -> Verdict:
    """Testnet evidence (see the module docstring)."""
    v = Verdict()
    src = f"testnet evidence: {db.source}"
    if db.sessions is None:
        v.problems.append(f"{src}: {NO_SESSIONS}")
        return v
    sessions = list(db.sessions)
    live = [s for s in sessions if not s.dry_run]
    on_env = [s for s in live if on_test_environment(s, env)]
    staged = [s for s in on_env if s.stage == "testnet"]
    current = [s for s in staged if s.contract_sha256 == contract]
    reason = _testnet_reason(sessions, live, on_env, staged, current, contract, env)
    if reason:
        v.problems.append(f"{src}: {reason}")
        return v
    c = count_sessions(db, current)
    v.evidence = build_evidence(db, c, contract=contract, dd=None, as_of=None)
    v.problems += disagreements(db, "testnet")
    v.problems += _testnet_orders(db, c, src)
    v.problems += _testnet_content(v.evidence, src)
    return v


def _testnet_reason(
    sessions: list[RunSession],
    live: list[RunSession],
    on_env: list[RunSession],
    staged: list[RunSession],
    current: list[RunSession],
    contract: str,
    env: SandboxHosts,
) -> str | None:
    if not sessions:
        return "no run session recorded: start the testnet stage's bot"
    if not live:
        return (
            f"only dry-run sessions ({len(sessions)}): testnet evidence is a run with dry_run "
            f"false on {env.name} or the local exchange; a paper or dry-run database does "
            "not count"
        )
    if not on_env:
        hosts = sorted({h for s in live for h in s.hosts})
        demo = " with its demo header" if env.needs_simulated else ""
        return (
            f"the sessions with dry_run false traded on {', '.join(hosts) or 'no host'}, not on "
            f"{env.name}{demo} or the local exchange"
        )
    if not staged:
        kinds = sorted({s.stage or "(none)" for s in on_env})
        return (
            f"the sessions were recorded by a bot of stage {', '.join(kinds)}, not by the "
            "testnet stage's bot (config.json exec_ext.stage)"
        )
    if not current:
        ran = sorted({s.contract_sha256[:12] for s in staged})
        return (
            f"the testnet sessions ran contract {', '.join(ran)}; risk-assessment.yaml is now "
            f"{contract[:12]}: run the testnet stage again on this contract"
        )
    return None


def _testnet_orders(db: StageDb, c: Counted, src: str) -> list[str]:
    out: list[str] = []
    simulated = [o for o in c.orders if o.simulated]
    if simulated:
        out.append(
            f"{src}: {plural(len(simulated), 'order')} in the testnet sessions have dry-run ids "
            "(dry_run_...): they were simulated, not placed on the exchange"
        )
    if db.journal is None:
        out.append(
            f"{src}: no order journal (table exec_ext_order_intents missing): the order guard "
            "journals every order a live bot sends, so these orders were not sent by it"
        )
        return out
    journal = {(j.order_id, j.pair) for j in db.journal if j.order_id}
    need = [o for o in c.orders if o.filled > 0 or (o.ft_side == "stoploss" and o.order_id)]
    missing = [o for o in need if (o.order_id, o.pair) not in journal]
    if missing:
        ids = ", ".join(o.order_id for o in missing[:3]) + (", ..." if len(missing) > 3 else "")
        out.append(
            f"{src}: {plural(len(missing), 'order')} of {len(need)} have no journal row "
            f"(order ids {ids}): the order guard journals every order it sends"
        )
    exchanges = {s.exchange for s in c.sessions}
    trade_ids = {o.trade_id for o in c.orders}
    foreign = sorted({t.exchange for t in db.trades if t.id in trade_ids} - exchanges)
    if foreign:
        out.append(
            f"{src}: trades on {', '.join(foreign)}, but the sessions ran on "
            f"{', '.join(sorted(exchanges))}"
        )
    return out


def _testnet_content(ev: StageEvidence, src: str) -> list[str]:
    out: list[str] = []
    if ev.filled_orders < st.TESTNET_MIN_FILLED_ORDERS or (
        ev.closed_trades < st.TESTNET_MIN_CLOSED_TRADES
    ):
        out.append(
            f"{src} shows {ev.filled_orders} filled orders and {ev.closed_trades} closed trades "
            f"in its testnet sessions; the testnet stage must fill at least "
            f"{st.TESTNET_MIN_FILLED_ORDERS} orders and close at least "
            f"{st.TESTNET_MIN_CLOSED_TRADES} trade. Keep the testnet bot running (or force "
            "entries and exits through its API) and retry"
        )
    if ev.stoploss_orders < 1:
        out.append(
            f"{src}: no stop-loss order was placed on the exchange in the testnet sessions; "
            "keep the bot running until an open trade's stop-loss is placed"
        )
    if ev.failed_checks:
        out.append(
            f"{src} has {ev.failed_checks} failed checks ({ev.failed_detail()}). Find the "
            "cause (freqtrade-exec report, the bot's log), fix it, move that database aside "
            "and run the testnet stage again"
        )
    return out


def paper_verdict(
    db: StageDb,
    *,
    contract: str,
    capital: float,
    max_drawdown: float,
    as_of: datetime | None = None,
) -> Verdict:
    """Paper evidence (see the module docstring); ``as_of`` reads the database as it was."""
    v = Verdict()
    src = f"paper evidence: {db.source}"
    view = db.as_of(as_of) if as_of is not None else db
    if view.sessions is None:
        v.problems.append(f"{src}: {NO_SESSIONS}")
        return v
    sessions = list(view.sessions)
    dry = [s for s in sessions if s.dry_run]
    staged = [s for s in dry if s.stage == "paper"]
    current = [s for s in staged if s.contract_sha256 == contract]
    reason = _paper_reason(sessions, dry, staged, current, contract)
    if reason:
        v.problems.append(f"{src}: {reason}")
        return v
    c = count_sessions(view, current)
    dd = drawdown(((when, p) for _, when, p in c.closed), capital)
    v.evidence = build_evidence(view, c, contract=contract, dd=dd, as_of=as_of)
    v.problems += disagreements(view, "paper")
    real = [o for o in c.orders if not o.simulated]
    if real:
        v.problems.append(
            f"{src}: {plural(len(real), 'order')} in the paper sessions carry exchange order "
            "ids: a dry-run bot places no order on an exchange"
        )
    v.problems += _paper_content(v.evidence, src)
    v.breaches = paper_breaches(v.evidence, max_drawdown)
    return v


def _paper_reason(
    sessions: list[RunSession],
    dry: list[RunSession],
    staged: list[RunSession],
    current: list[RunSession],
    contract: str,
) -> str | None:
    if not sessions:
        return "no run session recorded: start the paper stage's bot"
    if not dry:
        return (
            f"no dry-run session ({plural(len(sessions), 'session')} with dry_run false): paper "
            "trading is Freqtrade's dry-run"
        )
    if not staged:
        kinds = sorted({s.stage or "(none)" for s in dry})
        return (
            f"the dry-run sessions were recorded by a bot of stage {', '.join(kinds)}, not by "
            "the paper stage's bot (config.json exec_ext.stage)"
        )
    if not current:
        ran = sorted({s.contract_sha256[:12] for s in staged})
        return (
            f"the paper sessions ran contract {', '.join(ran)}; risk-assessment.yaml is now "
            f"{contract[:12]} (changed): paper trading starts again on the new contract"
        )
    return None


def _paper_content(ev: StageEvidence, src: str) -> list[str]:
    out: list[str] = []
    if ev.days < st.PAPER_MIN_DAYS:
        covered = f"{ev.stretch_start} to {ev.stretch_end}" if ev.stretch_start else "nothing"
        gaps = ""
        if ev.gaps:
            shown = "; ".join(ev.gaps[:5]) + (f"; ... and {len(ev.gaps) - 5} more"
                                              if len(ev.gaps) > 5 else "")  # fmt: skip
            gaps = f"; gaps over {span(MAX_GAP)}: {shown}"
        out.append(
            f"{src}: heartbeats cover {span(timedelta(days=ev.days))} without a gap over "
            f"{span(MAX_GAP)} "
            f"({covered}); live needs at least {st.PAPER_MIN_DAYS:g} days{gaps}. Keep the paper "
            "bot running"
        )
    if ev.closed_trades < st.PAPER_MIN_CLOSED_TRADES:
        out.append(
            f"{src}: {plural(ev.closed_trades, 'closed trade')} in the paper sessions; live "
            f"needs at least {st.PAPER_MIN_CLOSED_TRADES} (paper results with no trade cannot "
            "be reviewed)"
        )
    return out


def paper_breaches(ev: StageEvidence, max_drawdown: float) -> list[str]:
    """What a human must accept before live: failed checks and drawdown over the limit."""
    out: list[str] = []
    if ev.rejected_orders:
        out.append(plural(ev.rejected_orders, "rejected order"))
    if ev.over_budget_fills:
        out.append(plural(ev.over_budget_fills, "fill") + " over the slippage budget")
    if ev.unreadable_records:
        out.append(plural(ev.unreadable_records, "unreadable ledger record"))
    if ev.drawdown is not None and ev.drawdown > max_drawdown:
        out.append(f"drawdown {ev.drawdown:.1%} over limits.max_drawdown {max_drawdown:.1%}")
    return out
