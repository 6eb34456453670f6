"""The human approval that the live stage needs (pure, no Freqtrade).

``freqtrade-exec approve STR-001 --by NAME --capital AMOUNT`` writes
``.crypto/knowledge/strategies/STR-001/approvals/live.json`` and, beside it, the paper
report the person reviewed (``live-paper-report.json``).  The approval binds in one
``digest`` (sha256 over every other field): the contract's sha256, the paper evidence's
digest (re-derived from the paper database as of ``paper_evidence_as_of``), the report's
sha256, the approver, the time, the capital and any breaches the person accepted with a
reason.  ``deploy`` and ``validate`` re-derive the digest, the contract sha256, the paper
evidence and the report's sha256; a mismatch refuses the approval.

This protects against mistakes (a stale approval, a changed contract, a copied or
hand-edited file), not against a determined operator: anyone who can run this code can
compute a digest.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.errors import InputRefused

APPROVAL_VERSION = 2
REPORT_FILENAME = "live-paper-report.json"
_NAME = re.compile(r"^[\w .@'-]{1,100}$")
_REASON_MAX = 500


class ApprovalError(InputRefused, ValueError):
    """Missing, unreadable or invalid approval (one clear line)."""


def iso_z(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Approval:
    strategy_id: str
    stage: str
    approved_by: str
    approved_at: str  # ISO-8601 UTC
    capital: float
    stake_currency: str
    contract_sha256: str
    paper_evidence_digest: str
    paper_evidence_as_of: str  # the paper database is re-read as it was at this time
    paper_evidence: dict[str, Any]  # the numbers the person saw (for the checklist)
    report_sha256: str
    report_file: str  # beside live.json
    accepted_breaches: list[str] = field(default_factory=list)
    accept_reason: str | None = None
    version: int = APPROVAL_VERSION
    digest: str = ""

    def payload(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("digest")
        return out

    def computed_digest(self) -> str:
        blob = json.dumps(self.payload(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def sealed(self) -> Approval:
        return Approval(**{**self.payload(), "digest": self.computed_digest()})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def describe(self) -> str:
        accepted = f"; accepted breaches: {self.accept_reason}" if self.accepted_breaches else ""
        return (
            f"{self.approved_by} approved {self.capital:g} {self.stake_currency} at "
            f"{self.approved_at} (contract {self.contract_sha256[:12]}, paper evidence "
            f"{self.paper_evidence_digest[:12]}, report {self.report_sha256[:12]}{accepted})"
        )


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise ApprovalError("--by: the approver's name, 1-100 letters, digits, spaces or . @ ' - _")
    return name


def check_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    text = " ".join(reason.split())
    if not text or len(text) > _REASON_MAX or not text.isprintable():
        raise ApprovalError(
            f"--accept-breaches: a reason in plain words, 1-{_REASON_MAX} printable characters"
        )
    return text


def check_capital(capital: float, contract: RiskContract) -> float:
    limit = contract.capital.initial_capital
    cur = contract.market.stake_currency
    if not math.isfinite(capital) or capital <= 0:
        raise ApprovalError(f"--capital: must be a number > 0 ({cur}), was {capital}")
    if capital > limit:
        raise ApprovalError(
            f"--capital: {capital:g} {cur} is more than the contract's capital.initial_capital "
            f"({limit:g} {cur}), the capital paper trading was run with; raise it in "
            "risk-assessment.yaml first (that changes the contract, so paper evidence and "
            "approval are reviewed again)"
        )
    return float(capital)


def new_approval(
    contract: RiskContract,
    *,
    by: str,
    capital: float,
    now: datetime,
    as_of: datetime,
    paper_evidence: dict[str, Any],
    evidence_digest: str,
    report_sha256: str,
    breaches: list[str],
    accept_reason: str | None,
) -> Approval:
    """A sealed approval (``now``/``as_of``: aware UTC, from the caller)."""
    if breaches and not accept_reason:
        raise ApprovalError('breaches need --accept-breaches "reason"')
    return Approval(
        strategy_id=contract.strategy_id,
        stage="live",
        approved_by=check_name(by),
        approved_at=iso_z(now),
        capital=check_capital(capital, contract),
        stake_currency=contract.market.stake_currency,
        contract_sha256=contract.fingerprint(),
        paper_evidence_digest=evidence_digest,
        paper_evidence_as_of=iso_z(as_of),
        paper_evidence=paper_evidence,
        report_sha256=report_sha256,
        report_file=REPORT_FILENAME,
        accepted_breaches=list(breaches),
        accept_reason=check_reason(accept_reason) if breaches else None,
    ).sealed()


def write_atomic(path: Path, data: bytes) -> None:
    """Temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_approval(path: Path, approval: Approval) -> None:
    write_atomic(path, approval.to_json().encode())


def read_approval(path: Path, shown: str | None = None) -> Approval:
    """Read an approval and re-derive its digest; ``shown`` names the file in errors."""
    name = shown or str(path)
    if path.is_symlink():
        raise ApprovalError(f"{name}: a symbolic link; an approval is a plain file")
    if not path.is_file():
        raise ApprovalError(f"{name}: no approval recorded")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not an object")
        known = {f.name for f in fields(Approval)}
        if set(data) - known or data.get("version") != APPROVAL_VERSION:
            raise ApprovalError(
                f"{name}: not a version-{APPROVAL_VERSION} approval (approve again)"
            )
        approval = Approval(**data)
    except ApprovalError:
        raise
    except (OSError, ValueError, TypeError) as exc:
        raise ApprovalError(f"{name}: unreadable approval ({exc.__class__.__name__})") from None
    if approval.stage != "live":
        raise ApprovalError(f"{name}: not a live approval")
    if approval.digest != approval.computed_digest():
        raise ApprovalError(
            f"{name}: its content does not match its digest (edited by hand?); a human "
            "reviews the paper results and runs freqtrade-exec approve again"
        )
    return approval


def approval_problems(approval: Approval, contract: RiskContract) -> list[str]:
    """Why this approval does not cover this contract (empty list: it does)."""
    out = []
    if approval.strategy_id != contract.strategy_id:
        out.append(f"approval is for {approval.strategy_id}, not {contract.strategy_id}")
    if approval.contract_sha256 != contract.fingerprint():
        out.append(
            f"approval by {approval.approved_by} covers contract "
            f"{approval.contract_sha256[:12]}, but risk-assessment.yaml is now "
            f"{contract.fingerprint()[:12]} (changed after approval): review the paper "
            "results and approve again"
        )
    try:
        check_capital(float(approval.capital), contract)
    except (ApprovalError, TypeError, ValueError) as exc:
        out.append(f"approved capital: {exc}")
    if approval.stake_currency != contract.market.stake_currency:
        out.append(
            f"approved capital is in {approval.stake_currency}, the contract trades "
            f"{contract.market.stake_currency}"
        )
    return out
