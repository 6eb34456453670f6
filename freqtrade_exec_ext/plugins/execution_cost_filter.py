"""ExecutionCostFilter: drop pairs too expensive to trade at the contract's stake.

Live / dry-run / ``test-pairlist``: fetches each pair's L2 book and removes the pair when

* the quoted spread is above ``max_spread_bps``,
* walking the book for the stake costs more than ``max_entry_bps`` against the mid,
* the book is too thin to hold the stake at all, or
* the notional resting within ``max_entry_bps`` of the mid is below
  ``stake x min_depth_multiple``.

A book that cannot be fetched or is malformed removes the pair (fail closed).  With
``sort_by_cost`` the remaining pairs are ranked cheapest first.

Backtesting / hyperopt: no past order books exist, and the current book would be
look-ahead.  With ``backtest_mode: candle_proxy`` (default) the filter runs the same
checks on a labelled candle model (see :mod:`freqtrade_exec_ext.execution.cost_model`) over
the ``proxy_lookback_candles`` candles that closed before the backtest start, once at the
start; with ``backtest_mode: pass`` it keeps every pair and says so.

Limits come from the risk contract; parameters may only tighten them.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from pydantic import Field

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.execution.checks import BOOK_INVALID, BOOK_UNAVAILABLE, Verdict
from freqtrade_exec_ext.execution.cost_model import (
    BookError,
    CostEstimate,
    CostLimits,
    candle_proxy,
    estimate_entry_cost,
    filter_stake,
    judge,
    proxy_cost,
    tighten,
)
from freqtrade_exec_ext.plugins.contract_source import load_plugin_contract
from freqtrade_exec_ext.plugins.parameters import PluginParams, available_parameters, parse

logger = logging.getLogger(__name__)

IPairList, SupportsBacktesting, _IProtection, _ProtectionReturn = compat.plugin_bases()


class CostFilterParams(PluginParams):
    """The filter's parameters: defaults, ranges and help declared once."""

    strategy_id: str | None = Field(
        None,
        title="Strategy id",
        description="Risk contract to read (e.g. STR-001). Default: exec_ext.strategy_id, "
        "then the strategy class name (STR001 -> STR-001).",
    )
    max_spread_bps: float | None = Field(
        None,
        gt=0,
        title="Max spread (bps)",
        description="Quoted spread limit; default the contract's slippage.max_spread_bps. "
        "May only be lower.",
    )
    max_entry_bps: float | None = Field(
        None,
        gt=0,
        title="Max entry slippage (bps)",
        description="Book-walk slippage limit vs the mid for the stake; default the "
        "contract's slippage.max_entry_bps. May only be lower.",
    )
    stake_amount: float | None = Field(
        None,
        gt=0,
        title="Stake to check",
        description="Default: contract fixed_stake (method fixed_stake) else max_stake. "
        "May only be higher.",
    )
    min_depth_multiple: float = Field(
        1.0,
        ge=1,
        title="Depth multiple",
        description="Notional within max_entry_bps of the mid must be >= stake x this (>= 1).",
    )
    order_book_depth: int = Field(
        100,
        ge=1,
        le=5000,
        title="Order book levels",
        description="Levels fetched per side for the book walk.",
    )
    sort_by_cost: bool = Field(
        False,
        title="Rank by cost",
        description="Sort the remaining pairs by estimated entry cost, cheapest first.",
    )
    backtest_mode: Literal["candle_proxy", "pass"] = Field(
        "candle_proxy",
        title="Backtest behaviour",
        description="candle_proxy: labelled candle model on candles before the start; "
        "pass: keep every pair.",
    )
    proxy_lookback_candles: int = Field(
        288,
        ge=3,
        title="Proxy lookback",
        description="Candles before the backtest start used by the candle proxy.",
    )


class ExecutionCostFilter(IPairList):  # type: ignore[misc, valid-type]
    # Declared per instance in __init__: YES with the candle proxy, NO_ACTION with "pass".
    supports_backtesting = SupportsBacktesting.YES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            params = parse(CostFilterParams, self._pairlistconfig)
            contract = load_plugin_contract(self._config, self._pairlistconfig, self.name)
            self._contract_id = contract.strategy_id
            self._stake = tighten(
                "stake_amount", filter_stake(contract), params.stake_amount, higher_is_tighter=True
            )
            self._limits = CostLimits(
                max_spread_bps=tighten(
                    "max_spread_bps", contract.slippage.max_spread_bps, params.max_spread_bps
                ),
                max_entry_bps=tighten(
                    "max_entry_bps", contract.slippage.max_entry_bps, params.max_entry_bps
                ),
                min_depth_multiple=params.min_depth_multiple,
            )
        except ValueError as exc:
            raise compat.operational_exception()(f"{self.name}: {exc}") from None
        self._params = params
        self._sides: tuple[str, ...] = ("buy", "sell") if contract.is_futures else ("buy",)
        self._depth_levels = params.order_book_depth
        self._sort = params.sort_by_cost
        self._backtest_mode = params.backtest_mode
        self._lookback = params.proxy_lookback_candles

        self._backtest = compat.is_backtest_like(self._config)
        if self._backtest:
            if self._backtest_mode == "pass":
                self.supports_backtesting = SupportsBacktesting.NO_ACTION
                logger.warning(
                    "%s: backtesting has no past order books; backtest_mode 'pass' keeps every "
                    "pair (the live filter is not applied to this backtest)",
                    self.name,
                )
            else:
                logger.warning(
                    "%s: backtesting has no past order books; using a CANDLE PROXY (Abdi-Ranaldo "
                    "spread + square-root impact) over the %d candles before the backtest start, "
                    "evaluated once at the start. It is a model, not the live order-book check.",
                    self.name,
                    self._lookback,
                )
        self._cache: dict[str, tuple[float, CostEstimate | None, list[str]]] = {}

    # ------------------------------------------------------------------ freqtrade API
    @staticmethod
    def description() -> str:
        return "Drop pairs whose spread, book-walk slippage or depth break the risk contract."

    def short_desc(self) -> str:
        mode = f" [backtest: {self._backtest_mode}]" if getattr(self, "_backtest", False) else ""
        return (
            f"{self.name} - {self._contract_id}: stake {self._stake:,.2f}, spread <= "
            f"{self._limits.max_spread_bps:g} bps, book-walk slippage <= "
            f"{self._limits.max_entry_bps:g} bps, depth within budget >= stake x "
            f"{self._limits.min_depth_multiple:g}{', ranked by cost' if self._sort else ''}{mode}."
        )

    @staticmethod
    def available_parameters() -> dict[str, Any]:
        return {
            **available_parameters(CostFilterParams),
            **IPairList.refresh_period_parameter(),  # type: ignore[attr-defined]
        }

    def filter_pairlist(self, pairlist: list[str], tickers: dict[str, Any]) -> list[str]:
        if self._backtest and self._backtest_mode == "pass":
            return pairlist
        kept: list[tuple[float, str]] = []
        for pair in pairlist:
            estimate, reasons = self._evaluate(pair)
            if reasons:
                compat.log_once(
                    self, f"Removed {pair} from whitelist: {'; '.join(reasons)}", logger.info
                )
                continue
            cost = estimate.slippage_bps if estimate and estimate.slippage_bps is not None else 0.0
            kept.append((cost, pair))
        if self._sort:
            kept.sort(key=lambda item: item[0])
        return [pair for _, pair in kept]

    # ------------------------------------------------------------------ internals
    def _evaluate(self, pair: str) -> tuple[CostEstimate | None, list[str]]:
        now = time.monotonic()
        cached = self._cache.get(pair)
        if cached and (self._backtest or now - cached[0] < self.refresh_period):
            return cached[1], cached[2]
        if self._backtest:
            estimate, reasons = self._evaluate_proxy(pair)
        else:
            estimate, reasons = self._evaluate_book(pair)
        self._cache[pair] = (now, estimate, reasons)
        return estimate, reasons

    def _evaluate_book(self, pair: str) -> tuple[CostEstimate | None, list[str]]:
        try:
            book = compat.fetch_order_book(self._exchange, pair, self._depth_levels)
        except Exception as exc:  # noqa: BLE001  (any exchange error: cannot check -> deny)
            error = f"{exc.__class__.__name__}: {exc}"
            return None, [str(Verdict(False, BOOK_UNAVAILABLE, {"error": error}))]
        worst: CostEstimate | None = None
        reasons: list[str] = []
        for side in self._sides:
            try:
                estimate = estimate_entry_cost(
                    book,
                    self._stake,
                    budget_bps=self._limits.max_entry_bps,
                    side=side,  # type: ignore[arg-type]
                )
            except BookError as exc:
                return None, [str(Verdict(False, BOOK_INVALID, {"reason": str(exc)}))]
            side_reasons = judge(estimate, self._limits)
            reasons.extend(f"{side}: {v}" if len(self._sides) > 1 else str(v) for v in side_reasons)
            if worst is None or (estimate.slippage_bps or float("inf")) > (
                worst.slippage_bps or float("inf")
            ):
                worst = estimate
        if worst is not None and not reasons:
            compat.log_once(
                self,
                f"{pair}: spread {worst.spread_bps:.2f} bps, book-walk slippage "
                f"{worst.slippage_bps:.2f} bps for {self._stake:,.2f}, depth within "
                f"{self._limits.max_entry_bps:g} bps {worst.depth_within_budget:,.0f}",
                logger.info,
            )
        return worst, reasons

    def _evaluate_proxy(self, pair: str) -> tuple[CostEstimate | None, list[str]]:
        start = compat.timerange_start(self._config)
        if start is None:
            compat.log_once(
                self,
                f"{self.name}: kept {pair} UNCHECKED: no timerange start, so there are no "
                "candles before the backtest to estimate its cost from",
                logger.warning,
            )
            return None, []
        timeframe = str(self._config.get("timeframe") or "5m")
        df = compat.load_candles_before(self._config, pair, timeframe, start, self._lookback)
        if len(df) < 3:
            compat.log_once(
                self,
                f"{self.name}: kept {pair} UNCHECKED: only {len(df)} {timeframe} candles before "
                f"{start:%Y-%m-%d %H:%M} in the datadir (need >= 3)",
                logger.warning,
            )
            return None, []
        proxy = candle_proxy(df["high"], df["low"], df["close"], df["volume"])
        estimate = proxy_cost(proxy, self._stake, budget_bps=self._limits.max_entry_bps)
        reasons = [f"[candle proxy] {r}" for r in judge(estimate, self._limits)]
        if not reasons:
            compat.log_once(
                self,
                f"{pair} [candle proxy, {proxy.candles} candles before {start:%Y-%m-%d}]: spread "
                f"{estimate.spread_bps:.2f} bps, slippage {estimate.slippage_bps:.2f} bps for "
                f"{self._stake:,.2f}, depth within budget {estimate.depth_within_budget:,.0f}",
                logger.info,
            )
        return estimate, reasons
