"""The human approval that the live stage needs (pure, no Freqtrade).

``freqtrade-exec approve STR-001 --by NAME --capital AMOUNT`` writes
``.crypto/knowledge/strategies/STR-001/approvals/live.json``: who, when (UTC), the live
capital, the fingerprint of the contract approved, and the paper evidence the human saw.
A changed contract (another fingerprint) invalidates the approval.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.contract import RiskContract

APPROVAL_VERSION = 1
_NAME = re.compile(r"^[\w .@'-]{1,100}$")


class ApprovalError(ValueError):
    """Missing, unreadable or invalid approval (one clear line)."""


@dataclass(frozen=True)
class Approval:
    strategy_id: str
    stage: str
    approved_by: str
    approved_at: str  # ISO-8601 UTC
    capital: float
    stake_currency: str
    contract_fingerprint: str
    paper_evidence: dict[str, Any]
    version: int = APPROVAL_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def describe(self) -> str:
        return (
            f"{self.approved_by} approved {self.capital:g} {self.stake_currency} at "
            f"{self.approved_at} (contract {self.contract_fingerprint[:12]})"
        )


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise ApprovalError("--by: the approver's name, 1-100 letters, digits, spaces or . @ ' - _")
    return name


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
    paper_evidence: dict[str, Any],
    now: datetime | None = None,
) -> Approval:
    when = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return Approval(
        strategy_id=contract.strategy_id,
        stage="live",
        approved_by=check_name(by),
        approved_at=when.isoformat().replace("+00:00", "Z"),
        capital=check_capital(capital, contract),
        stake_currency=contract.market.stake_currency,
        contract_fingerprint=contract.fingerprint(),
        paper_evidence=paper_evidence,
    )


def write_approval(path: Path, approval: Approval) -> None:
    """Atomic write (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".live.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(approval.to_json())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_approval(path: Path, shown: str | None = None) -> Approval:
    """Read an approval; ``shown`` is how errors name the file (default: the path)."""
    name = shown or str(path)
    if not path.is_file():
        raise ApprovalError(f"{name}: no approval recorded")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        approval = Approval(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise ApprovalError(f"{name}: unreadable approval ({exc.__class__.__name__})") from None
    if approval.version != APPROVAL_VERSION or approval.stage != "live":
        raise ApprovalError(f"{name}: not a version-{APPROVAL_VERSION} live approval")
    return approval


def approval_problems(approval: Approval, contract: RiskContract) -> list[str]:
    """Why this approval does not cover this contract (empty list: it does)."""
    out = []
    if approval.strategy_id != contract.strategy_id:
        out.append(f"approval is for {approval.strategy_id}, not {contract.strategy_id}")
    if approval.contract_fingerprint != contract.fingerprint():
        out.append(
            f"approval by {approval.approved_by} covers contract "
            f"{approval.contract_fingerprint[:12]}, but risk-assessment.yaml is now "
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
