"""``freqtrade-exec approve``: from the paper database to a sealed approval.

:func:`prepare` reads the paper evidence as of two minutes before ``now`` (rows written
since then are still being committed), renders the paper report, lists the breaches, and
builds the sealed :class:`~freqtrade_exec_ext.deploy.approval.Approval`; nothing is
written.  :func:`record` writes the report, then the approval, each atomically.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.deploy import stages as st
from freqtrade_exec_ext.deploy.approval import (
    Approval,
    ApprovalError,
    check_capital,
    check_name,
    check_reason,
    new_approval,
    write_approval,
    write_atomic,
)
from freqtrade_exec_ext.deploy.evidence import EvidenceError, read_stage_db
from freqtrade_exec_ext.deploy.evidence_rules import StageEvidence
from freqtrade_exec_ext.deploy.gates import paper_check
from freqtrade_exec_ext.deploy.paper_report import (
    PaperReport,
    ReportUnavailable,
    render_paper_report,
)

#: the approval covers the paper database as it was this long before the approval
SETTLE = timedelta(minutes=2)


class ApproveRefused(ApprovalError):
    """Nothing can be approved (one line per reason in ``lines``)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Draft:
    approval: Approval
    evidence: StageEvidence
    report: PaperReport
    report_bytes: bytes
    breaches: list[str]


def prepare(
    root: Path,
    contract: RiskContract,
    *,
    by: str,
    capital: float,
    paper_url: str,
    accept_reason: str | None,
    now: datetime,
) -> Draft:
    """Everything the person is shown and will approve; raises ApproveRefused/ApprovalError."""
    name = check_name(by)
    amount = check_capital(capital, contract)
    reason = check_reason(accept_reason)
    try:
        db = read_stage_db(paper_url, root)
    except EvidenceError as exc:
        raise ApproveRefused([f"approve refused: no paper results to review: {exc}"]) from None
    as_of = now - SETTLE
    verdict = paper_check(db, contract, as_of)
    if verdict.problems or verdict.evidence is None:
        raise ApproveRefused([f"approve refused: {p}" for p in verdict.problems])
    with tempfile.TemporaryDirectory(prefix="freqtrade-exec-approve-") as tmp:
        out = Path(tmp) / "paper-report.json"
        contract_path = root / st.contract_posix(contract.strategy_id)
        try:
            report = render_paper_report(paper_url, root, contract_path, out)
        except ReportUnavailable as exc:
            raise ApproveRefused([f"approve refused: {exc}"]) from None
        report_bytes = out.read_bytes()
    breaches = list(verdict.breaches)
    if report.budget_breaches and not verdict.evidence.over_budget_fills:
        breaches.append(f"{report.budget_breaches} fills over the slippage budget (report)")
    if breaches and reason is None:
        raise ApproveRefused([
            f"approve refused: the paper results have breaches: {'; '.join(breaches)}.",
            (
                "Review them (the report: freqtrade-exec report --db ... --contract ...); to "
                "approve anyway, pass --accept-breaches \"your reason\" (it is recorded)"
            ),
        ])  # fmt: skip
    approval = new_approval(
        contract,
        by=name,
        capital=amount,
        now=now,
        as_of=as_of,
        paper_evidence=verdict.evidence.to_dict(),
        evidence_digest=verdict.evidence.digest,
        report_sha256=report.sha256,
        breaches=breaches,
        accept_reason=reason,
    )
    return Draft(approval, verdict.evidence, report, report_bytes, breaches)


def record(root: Path, draft: Draft) -> Path:
    """Write the reviewed report, then the approval (both atomically)."""
    path = root / st.approval_relpath(draft.approval.strategy_id)
    write_atomic(path.parent / draft.approval.report_file, draft.report_bytes)
    write_approval(path, draft.approval)
    return path
