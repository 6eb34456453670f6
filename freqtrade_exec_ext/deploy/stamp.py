"""The stamp a generated config.json carries: the contract's sha256 and the stage (pure).

``freqtrade-exec deploy`` writes, in the ``exec_ext`` section of config.json::

    "exec_ext": {"strategy_id": "STR-001", "stage": "paper",
                 "contract_sha256": "<RiskContract.fingerprint()>", ...}

:func:`stamp_problem` is what the strategy calls at start with the config Freqtrade loaded
and the contract on disk: a stamp that no longer matches (the contract was edited after
deploy) gives one line, and the bot must not run.  The fingerprint is the sha256 of the
normalized contract, so a comment-only edit is not a change.  A config without a stamp (a
hand-written config, a backtest) is not refused here.
"""

from __future__ import annotations

import re
from typing import Any

from freqtrade_exec_ext.contract import RiskContract

SECTION = "exec_ext"
CONTRACT_KEY = "contract_sha256"
STAGE_KEY = "stage"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def stamp(contract: RiskContract, stage: str) -> dict[str, str]:
    """The stamp keys of ``config["exec_ext"]``."""
    return {"strategy_id": contract.strategy_id, STAGE_KEY: stage,
            CONTRACT_KEY: contract.fingerprint()}  # fmt: skip


def stamp_problem(config: dict[str, Any], contract: RiskContract) -> str | None:
    """One line when ``config`` was generated for another contract; None otherwise.

    None too when the config carries no stamp (``exec_ext.contract_sha256`` absent).
    """
    section = config.get(SECTION)
    if not isinstance(section, dict) or CONTRACT_KEY not in section:
        return None
    sid = contract.strategy_id
    stage = section.get(STAGE_KEY) if isinstance(section.get(STAGE_KEY), str) else None
    redeploy = f"re-run freqtrade-exec deploy {sid} --stage {stage or '<stage>'}"
    stamped = section.get(CONTRACT_KEY)
    if not isinstance(stamped, str) or not _SHA256.match(stamped):
        return f"{sid}: config.json exec_ext.{CONTRACT_KEY} is not a sha256: {redeploy}"
    other = section.get("strategy_id")
    if other is not None and other != sid:
        return f"{sid}: config.json was generated for {other}, not {sid}: {redeploy}"
    now = contract.fingerprint()
    if stamped != now:
        return (
            f"{sid}: config.json was generated for another version of risk-assessment.yaml: "
            f"contract edited after deploy (stamp {stamped[:12]}, now {now[:12]}): {redeploy}"
        )
    return None
