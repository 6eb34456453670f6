"""Stage order: what each stage needs from the stages before it.

* ``testnet``: nothing.
* ``paper``: the testnet database shows at least one closed trade (its entry and exit
  filled) and no failed checks (:data:`~freqtrade_exec_ext.deploy.evidence.FAILED_CHECKS_DOC`).
* ``live``: the testnet condition still holds, paper trading ran at least
  :data:`~freqtrade_exec_ext.deploy.stages.PAPER_MIN_DAYS` days (read from the paper
  database), and a human approval covers the current contract.

``deploy`` refuses a stage whose conditions fail; ``validate`` re-checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.deploy.approval import (
    Approval,
    ApprovalError,
    approval_problems,
    read_approval,
)
from freqtrade_exec_ext.deploy.evidence import EvidenceError, StageEvidence, read_evidence


@dataclass
class GateResult:
    stage: st.Stage
    evidence: dict[str, StageEvidence] = field(default_factory=dict)
    approval: Approval | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def testnet_problems(ev: StageEvidence) -> list[str]:
    out = []
    if ev.closed_trades < st.TESTNET_MIN_CLOSED_TRADES:
        out.append(
            f"testnet evidence: {ev.source} shows {ev.filled_orders} filled orders and "
            f"{ev.closed_trades} closed trades; the testnet stage must open and close at "
            f"least {st.TESTNET_MIN_CLOSED_TRADES} trade (entry and exit filled). Keep the "
            "testnet bot running (or force an entry and exit through its API) and retry"
        )
    if ev.failed_checks:
        out.append(
            f"testnet evidence: {ev.source} has {ev.failed_checks} failed checks "
            f"({ev.failed_detail()}). Find the cause (freqtrade-exec report, the bot's log), "
            "fix it, move that database aside and run the testnet stage again"
        )
    return out


def paper_problems(ev: StageEvidence) -> list[str]:
    if ev.days >= st.PAPER_MIN_DAYS:
        return []
    span = f"from {ev.first_activity} to {ev.last_activity}" if ev.first_activity else "no activity"
    return [
        (
            f"paper evidence: paper trading ran {ev.days:.1f} days ({span} in {ev.source}); "
            f"live needs at least {st.PAPER_MIN_DAYS:g} days. Keep the paper bot running"
        )
    ]


def _read(stage: st.Stage, url: str, root: Path, result: GateResult) -> StageEvidence | None:
    try:
        ev = read_evidence(url, root)
    except EvidenceError as exc:
        how = (
            f"run the {stage} stage first (freqtrade-exec deploy ... --stage {stage}, then "
            "start the bot)"
        )
        result.problems.append(f"{stage} evidence: {exc}. {how.capitalize()}")
        return None
    result.evidence[stage] = ev
    return ev


def evaluate(
    stage: st.Stage,
    contract: RiskContract,
    root: Path,
    evidence_urls: dict[str, str],
    *,
    approval_path: Path | None = None,
) -> GateResult:
    """Check everything ``stage`` needs; ``evidence_urls`` maps earlier stages to DB URLs."""
    result = GateResult(stage)
    if stage == "testnet":
        return result
    testnet = _read("testnet", evidence_urls["testnet"], root, result)
    if testnet is not None:
        result.problems += testnet_problems(testnet)
    if stage == "paper":
        return result
    paper = _read("paper", evidence_urls["paper"], root, result)
    if paper is not None:
        result.problems += paper_problems(paper)
    rel = st.approval_relpath(contract.strategy_id)
    path = approval_path or root / rel
    try:
        approval = read_approval(path, None if approval_path else rel.as_posix())
    except ApprovalError as exc:
        result.problems.append(
            f"human approval: {exc}. After reviewing the paper results, a human runs: "
            f"freqtrade-exec approve {contract.strategy_id} --by NAME --capital AMOUNT"
        )
    else:
        result.approval = approval
        result.problems += [f"human approval: {p}" for p in approval_problems(approval, contract)]
    return result


def default_evidence_urls(strategy_id: str, db: st.DbKind) -> dict[str, str]:
    return {s: st.host_evidence_url(strategy_id, s, db) for s in ("testnet", "paper")}
