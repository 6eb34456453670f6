"""deployment-checklist.md: the team's template, with what the generator verified checked.

A box is checked only when the generator verified it, and its evidence is written beside
it ("Testnet dry-run successful: 12 filled orders, 0 rejected, ...").  Every other box
stays unchecked, followed by what is left to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.deploy.approval import Approval
from freqtrade_exec_ext.deploy.config_builder import risk_summary
from freqtrade_exec_ext.deploy.evidence_model import plural
from freqtrade_exec_ext.deploy.evidence_rules import StageEvidence


@dataclass(frozen=True)
class Item:
    text: str
    done: bool
    note: str

    def render(self) -> str:
        if self.done:
            return f"- [x] {self.text}: {self.note}"
        return f"- [ ] {self.text} - to do: {self.note}"


@dataclass(frozen=True)
class ChecklistInput:
    contract: RiskContract
    stage: st.Stage
    config: dict[str, Any]
    risk_ok: bool
    evidence: dict[str, StageEvidence]
    approval: Approval | None
    deployment_dir: str  # relative to the project root
    local_exchange: bool = False


def _pre(ci: ChecklistInput) -> list[Item]:
    c, cfg = ci.contract, ci.config
    testnet = ci.evidence.get("testnet")
    traded = f" (the testnet stage filled {testnet.filled_orders} orders)" if testnet else ""
    todo = {
        "testnet": "put a throwaway key pair in .env (FREQTRADE__EXCHANGE__KEY/SECRET, "
        "e.g. openssl rand -hex 32 for each): the bot signs with it and the local exchange "
        "accepts only it (its compose service, or freqtrade-exec exchange start run with the "
        "same variables)"
        if ci.local_exchange
        else "put the testnet keys in .env (FREQTRADE__EXCHANGE__KEY/SECRET)",
        "paper": "paper trading needs no keys; the live keys go in .env at the live stage",
        "live": "put the live exchange keys (trade-only, no withdrawals) in .env",
    }[ci.stage]
    keys = Item(
        "API keys configured (testnet first)",
        False,
        f"{todo}; the generator never reads .env{traded}",
    )
    ot = cfg.get("order_types", {})
    if ot.get("stoploss_on_exchange"):
        where = (
            f"placed on the exchange as a {ot.get('stoploss')} order (limit ratio "
            f"{ot.get('stoploss_on_exchange_limit_ratio')})"
        )
    else:
        where = "managed by the bot (not on the exchange)"
    stop = Item(
        "Stop-loss orders configured",
        ci.risk_ok,
        f"stoploss {cfg.get('stoploss')} {where}"
        if ci.risk_ok
        else "config.json differs from the contract",
    )
    if c.is_futures:
        funding = Item(
            "Funding rate monitoring active",
            False,
            f"funding.max_rate_bps {c.funding.max_rate_bps:g} is enforced by the "
            "strategy; confirm funding alerts reach you",
        )
    else:
        funding = Item(
            "Funding rate monitoring active",
            True,
            f"not applicable: {c.market.trading_mode} market pays no funding",
        )
    alerts = Item(
        "Alert webhooks configured",
        False,
        "templates for webhook, Telegram and Discord are in config.json (incl. the "
        "strategy's own messages); switch a channel on in .env "
        "(FREQTRADE__WEBHOOK__ENABLED=true and FREQTRADE__WEBHOOK__URL, ...)",
    )
    if testnet and ci.stage != "testnet":
        run = Item(
            "Testnet dry-run successful",
            True,
            f"{plural(testnet.sessions, 'run session')} on the test environment, "
            f"{testnet.filled_orders} filled orders, {testnet.rejected_orders} rejected, "
            f"{plural(testnet.closed_trades, 'closed trade')}, "
            f"{plural(testnet.stoploss_orders, 'stop-loss order')} on the exchange, "
            f"{testnet.journal_matched} orders matched to the order journal, "
            f"{plural(testnet.failed_checks, 'failed check')} ({testnet.source})",
        )
    else:
        run = Item(
            "Testnet dry-run successful",
            False,
            f"run this testnet deployment until it has filled {st.TESTNET_MIN_FILLED_ORDERS} "
            "orders, closed a trade and placed a stop-loss on the exchange, with no failed "
            "checks; then deploy the paper stage",
        )
    risk = Item(
        "Risk parameters embedded in config",
        ci.risk_ok,
        risk_summary(c, cfg) if ci.risk_ok else "config.json differs from the contract",
    )
    return [keys, risk, stop, funding, alerts, run]


def _paper(ci: ChecklistInput) -> list[Item]:
    c, cfg = ci.contract, ci.config
    cur = c.market.stake_currency
    paper = ci.evidence.get("paper")
    if ci.stage == "paper":
        mode = Item(
            "Paper trading mode enabled",
            cfg.get("dry_run") is True,
            "dry_run: true in config.json (simulated orders on real market data)",
        )
        capital = Item(
            "Initial capital allocation set per risk-assessment.yaml",
            ci.risk_ok,
            f"dry_run_wallet {cfg.get('dry_run_wallet'):g} {cur} = capital.initial_capital",
        )
    elif ci.stage == "live" and paper:
        mode = Item(
            "Paper trading mode enabled",
            True,
            f"paper stage ran: {paper.filled_orders} filled orders over "
            f"{paper.days:.1f} days of heartbeats ({paper.source})",
        )
        approved = ci.approval.capital if ci.approval else None
        capital = Item(
            "Initial capital allocation set per risk-assessment.yaml",
            approved is not None,
            f"capital.initial_capital {c.capital.initial_capital:g} {cur}; live "
            f"capital {approved:g} {cur} approved within it"
            if approved is not None
            else "no approval",
        )
    else:
        mode = Item("Paper trading mode enabled", False, "deploy the paper stage")
        capital = Item(
            "Initial capital allocation set per risk-assessment.yaml",
            False,
            "set by the paper stage (dry_run_wallet = capital.initial_capital)",
        )
    monitor = Item(
        "Monitor agent configured to track this strategy",
        False,
        f"point the monitor at this bot's REST API / database ({cfg.get('db_url')})",
    )
    if ci.stage == "live" and paper:
        duration = Item(
            "Duration: minimum 2 weeks before live review",
            True,
            f"paper ran {paper.days:.1f} days with no gap over 1 h ({paper.stretch_start} to "
            f"{paper.stretch_end})",
        )
    else:
        duration = Item(
            "Duration: minimum 2 weeks before live review",
            False,
            f"keep the paper bot running {st.PAPER_MIN_DAYS:g} days; the live "
            "stage reads its run sessions' heartbeats from the paper database",
        )
    return [mode, capital, monitor, duration]


def _live(ci: ChecklistInput) -> list[Item]:
    cfg, a = ci.config, ci.approval
    cur = ci.contract.market.stake_currency
    api = cfg.get("api_server", {})
    if a is not None and ci.stage == "live":
        review = Item(
            "Paper trading results reviewed by human",
            True,
            f"approved by {a.approved_by} at {a.approved_at} (contract "
            f"{a.contract_sha256[:12]}, paper evidence: "
            f"{a.paper_evidence.get('days', '?')} days, "
            f"{a.paper_evidence.get('filled_orders', '?')} filled orders; report "
            f"{a.report_sha256[:12]}"
            + (f"; breaches accepted: {a.accept_reason}" if a.accepted_breaches else "")
            + ")",
        )
        capital = Item(
            "Live capital allocation confirmed",
            ci.risk_ok,
            f"available_capital {cfg.get('available_capital'):g} {cur} in "
            f"config.json = the capital {a.approved_by} approved",
        )
    else:
        review = Item(
            "Paper trading results reviewed by human",
            False,
            f"after paper ran {st.PAPER_MIN_DAYS:g} days: freqtrade-exec approve "
            f"{ci.contract.strategy_id} --by NAME --capital AMOUNT",
        )
        capital = Item(
            "Live capital allocation confirmed",
            False,
            "the approval's --capital becomes the live available_capital",
        )
    loopback = api.get("enabled") and api.get("listen_ip_address") in ("127.0.0.1", "::1")
    kill = Item(
        "Kill switch accessible",
        bool(loopback),
        f"freqtrade-exec kill {ci.contract.strategy_id} (REST API on "
        f"127.0.0.1:{api.get('listen_port')}: stops entries, cancels open orders; "
        "--flatten also exits every position; credentials from "
        "FREQTRADE__API_SERVER__USERNAME/PASSWORD)"
        if loopback
        else "api_server is not enabled on loopback",
    )
    contacts = Item(
        "Emergency contacts configured", False, "name who is called when the kill switch is used"
    )
    return [review, capital, kill, contacts]


def render_checklist(ci: ChecklistInput) -> str:
    sid = ci.contract.strategy_id
    lines = [
        f"# Deployment Checklist: {sid}",
        "",
        (
            f"Stage: **{ci.stage}**. Generated by `freqtrade-exec deploy {sid} --stage "
            f"{ci.stage}` from `{st.contract_posix(sid)}` (sha256 "
            f"{ci.contract.fingerprint()[:12]}). Checked boxes were verified by the "
            f"generator; re-check with `freqtrade-exec validate {ci.deployment_dir}`."
        ),
        "",
        "## Pre-Deployment",
        *(i.render() for i in _pre(ci)),
        "",
        "## Paper Trading",
        *(i.render() for i in _paper(ci)),
        "",
        "## Live Trading (HUMAN APPROVAL REQUIRED)",
        *(i.render() for i in _live(ci)),
    ]
    return "\n".join(lines) + "\n"
