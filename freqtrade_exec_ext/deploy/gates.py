"""Stage order: what each stage needs from the stages before it.

* ``testnet``: nothing.
* ``paper``: testnet evidence (:func:`~.evidence_rules.testnet_verdict`).
* ``live``: the testnet evidence still holds; paper evidence
  (:func:`~.evidence_rules.paper_verdict`) read *as of the approval*, whose digest must be
  the approved one; the report the human reviewed, unchanged; a human approval that
  covers the current contract and accepted every breach; and no new breach since.

``deploy`` refuses a stage whose conditions fail; ``validate`` re-checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.deploy.approval import (
    Approval,
    ApprovalError,
    approval_problems,
    read_approval,
)
from freqtrade_exec_ext.deploy.evidence import EvidenceError, StageDb, read_stage_db
from freqtrade_exec_ext.deploy.evidence_rules import (
    SandboxHosts,
    StageEvidence,
    Verdict,
    paper_verdict,
    testnet_verdict,
)


@dataclass
class GateResult:
    stage: st.Stage
    evidence: dict[str, StageEvidence] = field(default_factory=dict)
    approval: Approval | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def testnet_hosts(contract: RiskContract) -> SandboxHosts:
    """Where the contract's testnet sessions may have traded (ccxt's own test hosts)."""
    from freqtrade_exec_ext.deploy.testnets import find_testnet, reference_hosts, required_headers

    testnet = find_testnet(contract.market.exchange, contract.market.trading_mode)
    if testnet is None:
        return SandboxHosts("the local exchange", frozenset(), False)
    return SandboxHosts(testnet.name, reference_hosts(testnet), bool(required_headers(testnet)))


def paper_check(db: StageDb, contract: RiskContract, as_of: datetime | None = None) -> Verdict:
    return paper_verdict(
        db,
        contract=contract.fingerprint(),
        capital=contract.capital.initial_capital,
        max_drawdown=contract.limits.max_drawdown,
        as_of=as_of,
    )


def _read(stage: st.Stage, url: str, root: Path, result: GateResult) -> StageDb | None:
    try:
        return read_stage_db(url, root)
    except EvidenceError as exc:
        how = (
            f"run the {stage} stage first (freqtrade-exec deploy ... --stage {stage}, then "
            "start the bot)"
        )
        result.problems.append(f"{stage} evidence: {exc}. {how.capitalize()}")
        return None


def _approval(contract: RiskContract, root: Path, path: Path | None,
              result: GateResult) -> Approval | None:  # fmt: skip
    rel = st.approval_relpath(contract.strategy_id)
    try:
        approval = read_approval(path or root / rel, None if path else rel.as_posix())
    except ApprovalError as exc:
        result.problems.append(
            f"human approval: {exc}. After reviewing the paper results, a human runs: "
            f"freqtrade-exec approve {contract.strategy_id} --by NAME --capital AMOUNT"
        )
        return None
    problems = approval_problems(approval, contract)
    result.problems += [f"human approval: {p}" for p in problems]
    return None if problems else approval


def _report_problem(approval: Approval, folder: Path) -> str | None:
    from freqtrade_exec_ext.deploy.paper_report import sha256_file

    path = folder / approval.report_file
    if path.is_symlink() or not path.is_file() or "/" in approval.report_file:
        return f"human approval: the paper report it approved ({approval.report_file}) is missing"
    if sha256_file(path) != approval.report_sha256:
        return (
            f"human approval: the paper report it approved ({approval.report_file}) changed "
            "after the approval: review the paper results and approve again"
        )
    return None


def _live(contract: RiskContract, db: StageDb, root: Path, approval_path: Path | None,
          result: GateResult) -> None:  # fmt: skip
    approval = _approval(contract, root, approval_path, result)
    now = paper_check(db, contract)
    if approval is None:
        result.problems += now.problems + [f"paper breach: {b}" for b in now.breaches]
        if now.evidence is not None:
            result.evidence["paper"] = now.evidence
        return
    as_of = datetime.fromisoformat(approval.paper_evidence_as_of)
    then = paper_check(db, contract, as_of)
    result.problems += then.problems
    if then.evidence is not None:
        result.evidence["paper"] = then.evidence
        if then.evidence.digest != approval.paper_evidence_digest:
            result.problems.append(
                f"human approval: the paper database no longer holds the evidence that was "
                f"approved (digest {approval.paper_evidence_digest[:12]} as of "
                f"{approval.paper_evidence_as_of}, now {then.evidence.digest[:12]}): review "
                "the paper results and approve again"
            )
    unaccepted = [b for b in then.breaches if b not in approval.accepted_breaches]
    result.problems += [f"paper breach not accepted in the approval: {b}" for b in unaccepted]
    new = [b for b in now.breaches if b not in then.breaches]
    if new:
        result.problems.append(
            f"paper evidence: new since the approval at {approval.approved_at}: "
            f"{'; '.join(new)}: review the paper results and approve again"
        )
    report = _report_problem(approval, (approval_path or root / st.approval_relpath(
        contract.strategy_id)).parent)  # fmt: skip
    if report:
        result.problems.append(report)
    result.approval = approval


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
    testnet_db = _read("testnet", evidence_urls["testnet"], root, result)
    if testnet_db is not None:
        verdict = testnet_verdict(
            testnet_db, contract=contract.fingerprint(), env=testnet_hosts(contract)
        )
        result.problems += verdict.problems
        if verdict.evidence is not None:
            result.evidence["testnet"] = verdict.evidence
    if stage == "paper":
        return result
    paper_db = _read("paper", evidence_urls["paper"], root, result)
    if paper_db is not None:
        _live(contract, paper_db, root, approval_path, result)
    else:
        result.approval = _approval(contract, root, approval_path, result)
    return result


def default_evidence_urls(strategy_id: str, db: st.DbKind) -> dict[str, str]:
    return {s: st.host_evidence_url(strategy_id, s, db) for s in ("testnet", "paper")}
