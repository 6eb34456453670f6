"""Where a strategy's risk contract lives.

``.crypto/knowledge/strategies/<STRATEGY_ID>/risk-assessment.yaml``, searched relative to
the directory above ``user_data/`` first, then to the working directory.  A config key
(``exec_ext.risk_contract``) overrides the search with an explicit path.
"""

from __future__ import annotations

from pathlib import Path

from freqtrade_exec_ext.contract.loader import CONTRACT_FILENAME, ContractError, Problem

KNOWLEDGE_DIR = Path(".crypto") / "knowledge" / "strategies"


def contract_relpath(strategy_id: str) -> Path:
    return KNOWLEDGE_DIR / strategy_id / CONTRACT_FILENAME


def strategy_dir(root: str | Path, strategy_id: str) -> Path:
    return Path(root) / KNOWLEDGE_DIR / strategy_id


def find_contract(
    strategy_id: str,
    *,
    user_data_dir: str | Path | None = None,
    cwd: str | Path | None = None,
    override: str | Path | None = None,
) -> Path:
    """Return the contract path, or raise ContractError naming every place searched."""
    if override:
        path = Path(override)
        if not path.is_absolute() and user_data_dir is not None:
            candidates = [Path(user_data_dir).parent / path, Path(cwd or Path.cwd()) / path]
        else:
            candidates = [path]
    else:
        roots = []
        if user_data_dir is not None:
            roots.append(Path(user_data_dir).resolve().parent)
        roots.append(Path(cwd or Path.cwd()).resolve())
        candidates = [root / contract_relpath(strategy_id) for root in roots]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    searched = ", ".join(dict.fromkeys(str(c) for c in candidates))
    raise ContractError(
        [
            Problem(
                str(candidates[0]),
                "",
                f"risk contract for {strategy_id} not found (searched {searched})",
            )
        ]
    )
