"""SlippageGuard: lock a pair (or every pair) after too many over-budget fills.

Reads the execution ledger the mixin writes for every filled order
(:class:`freqtrade_exec_ext.execution.ledger.FillRecord`): in trade / dry-run from
Freqtrade's ``trade_custom_data`` table (keys ``exec_ext.fill.<order_id>``), in
backtesting and hyperopt from the same custom data held in memory by the backtest's
trades, and from the backtest ledger file the mixin appends to while the backtest runs
(``<exportdirectory or user_data/backtest_results>/<Strategy>-exec-ledger.jsonl``; only
records filled at or before ``date_now`` count, so nothing from the future is read).
Hyperopt keeps no ledger, so the guard never locks there.  A fill "breaks the budget"
when its record says ``over_budget``, or when its ``slippage_decision_bps`` is above an
explicitly tightened ``max_entry_bps`` / ``max_exit_bps``.

When ``trade_limit`` fills filled within ``lookback_period`` minutes before ``date_now``
broke the budget, the pair is locked for ``stop_duration`` minutes (and, unless
``only_per_pair``, all pairs when that many breaches happened across pairs).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.execution.cost_model import tighten
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX, FillRecord
from freqtrade_exec_ext.plugins.contract_source import announce_lock, load_plugin_contract
from freqtrade_exec_ext.store.ledger_files import backtest_ledger_path
from freqtrade_exec_ext.timeutil import as_utc, parse_utc

logger = logging.getLogger(__name__)

_IPairList, _SB, IProtection, ProtectionReturn = compat.plugin_bases()


def _parse_time(value: str | None) -> datetime | None:
    return parse_utc(value)


def _as_record(value: Any) -> FillRecord | None:
    try:
        data = json.loads(value) if isinstance(value, str) else value
        return FillRecord.from_dict(data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None


def breaches(
    records: list[FillRecord],
    since: datetime,
    until: datetime,
    budgets: dict[str, float],
) -> list[tuple[datetime, FillRecord]]:
    """Over-budget fills filled in ``(since, until]``, oldest first, one per order id."""
    seen: set[str] = set()
    out = []
    for rec in records:
        when = _parse_time(rec.filled_time)
        if when is None or not (since < when <= until) or rec.order_id in seen:
            continue
        seen.add(rec.order_id)
        budget = budgets.get(rec.intent)
        over = rec.over_budget or (
            budget is not None
            and rec.slippage_decision_bps is not None
            and rec.slippage_decision_bps > budget
        )
        if over:
            out.append((when, rec))
    out.sort(key=lambda item: item[0])
    return out


class SlippageGuard(IProtection):  # type: ignore[misc, valid-type]
    has_global_stop: bool = True
    has_local_stop: bool = True

    def __init__(self, config: dict[str, Any], protection_config: dict[str, Any]) -> None:
        super().__init__(config, protection_config)
        try:
            contract = load_plugin_contract(config, protection_config, self.name)
            self._trade_limit = int(protection_config.get("trade_limit", 3))
            if self._trade_limit < 1:
                raise ValueError(f"trade_limit: must be >= 1, was {self._trade_limit}")
            self._budgets = {
                "entry": tighten(
                    "max_entry_bps",
                    contract.slippage.max_entry_bps,
                    protection_config.get("max_entry_bps"),
                ),
                "exit": tighten(
                    "max_exit_bps",
                    contract.slippage.max_exit_bps,
                    protection_config.get("max_exit_bps"),
                ),
            }
        except ValueError as exc:
            raise compat.operational_exception()(f"{self.name}: {exc}") from None
        self._only_per_pair = bool(protection_config.get("only_per_pair", False))
        self._ledger_file: Path | None = None
        self._ledger_offset = 0
        self._ledger_records: list[FillRecord] = []
        if compat.runmode_value(config) == "backtest" and config.get("strategy"):
            results = compat.backtest_results_dir(config)
            self._ledger_file = backtest_ledger_path(results, str(config["strategy"]))

    def short_desc(self) -> str:
        scope = "the pair" if self._only_per_pair else "the pair, or all pairs"
        return (
            f"{self.name} - locks {scope} after {self._trade_limit} fills over the slippage "
            f"budget (entry {self._budgets['entry']:g} / exit {self._budgets['exit']:g} bps) "
            f"within {self.lookback_period_str}."
        )

    def _file_records(self) -> list[FillRecord]:
        """New lines of the backtest ledger file since the last call (read incrementally)."""
        path = self._ledger_file
        if path is None or not path.is_file():
            return self._ledger_records
        size = path.stat().st_size
        if size < self._ledger_offset:  # truncated: a new backtest started
            self._ledger_offset, self._ledger_records = 0, []
        if size > self._ledger_offset:
            with path.open("rb") as fh:
                fh.seek(self._ledger_offset)
                chunk = fh.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written line waits
            self._ledger_offset += len(complete)
            for line in complete.decode("utf-8").splitlines():
                rec = _as_record(line) if line.strip() else None
                if rec is not None:
                    self._ledger_records.append(rec)
        return self._ledger_records

    def _records(self, pair: str | None, since: datetime) -> list[FillRecord]:
        out = [r for r in self._file_records() if pair is None or r.pair == pair]
        for trade in compat.trades_since(pair, since):
            for _key, value in compat.trade_custom_data(trade, LEDGER_KEY_PREFIX):
                rec = _as_record(value)
                if rec is not None:
                    out.append(rec)
        return out

    def _check(self, pair: str | None, date_now: datetime) -> Any:
        date_now = as_utc(date_now)
        since = date_now - timedelta(minutes=self._lookback_period)
        found = breaches(self._records(pair, since), since, date_now, self._budgets)
        if len(found) < self._trade_limit:
            return None
        worst = max((rec.slippage_decision_bps or 0.0 for _, rec in found), default=0.0)
        where = pair or "all pairs"
        reason = (
            f"{len(found)} fills over the slippage budget in {self.lookback_period_str} "
            f"(worst {worst:.1f} bps), locking {where} {self.unlock_reason_time_element}."
        )
        until = date_now + timedelta(minutes=self._stop_duration)
        announce_lock(
            self,
            logger,
            (where, found[-1][1].order_id),
            f"{self.name} at {date_now:%Y-%m-%d %H:%M}: {reason}",
        )
        return ProtectionReturn(lock=True, until=until, reason=reason)

    def global_stop(self, date_now: datetime, side: str, starting_balance: float) -> Any:
        if self._only_per_pair:
            return None
        return self._check(None, date_now)

    def stop_per_pair(
        self, pair: str, date_now: datetime, side: str, starting_balance: float
    ) -> Any:
        return self._check(pair, date_now)
