"""The execution model as the strategy mixin uses it in a backtest (the thin adapter).

The mixin holds one :class:`BacktestModel` (None outside backtests, or when the contract
names no ``slippage.backtest_model``) and calls it at the points it already has:

* ``custom_entry_price`` / ``custom_exit_price``: :meth:`BacktestModel.entry` /
  :meth:`BacktestModel.exit` (a :class:`~freqtrade_exec_ext.calibration.apply.Plan`: the
  price, whether the entry fills, the share that fills);
* ``check_entry_timeout``: :func:`cancels` (the model said: no fill);
* ``custom_stake_amount``: :func:`stake_ratio` (a partial fill as a smaller stake);
* ``bot_start``: :func:`startup_lines` (what is modelled, from which file; the flat
  ``backtest_bps`` line without a model).

It reads the candle each order is placed in from the backtest's datadir (Freqtrade fills
a backtest order from that candle's low and high; the model conditions on the same
candle).  Nothing here places or changes an order itself.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.calibration import apply
from freqtrade_exec_ext.calibration.model import ModelError
from freqtrade_exec_ext.calibration.sources import OrderCandles

SIM_RUNMODES = ("backtest", "hyperopt", "webserver")


FLAT_LINE = (
    "exec_ext backtest model: {bps:g} bps adverse slippage charged on limit entries and on "
    "limit exits by signal/custom exit (custom_entry_price/custom_exit_price); NOT modelled: "
    "stop-loss, ROI, market and forced fills (callbacks cannot move them), partial fills, "
    "queue position, maker/taker fees (one fee rate), spread/book-walk/funding pre-trade "
    "checks (no historical order book); slippage.backtest_model charges an execution model "
    "instead (docs/calibration.md)"
)


class BacktestModel:
    def __init__(
        self, costs: apply.BacktestCosts, config: dict[str, Any], fallback_bps: float
    ) -> None:
        self.costs = costs
        self.config = config
        self.fallback_bps = fallback_bps
        self._candles: OrderCandles | None = None
        self._last: datetime | None = None

    @classmethod
    def for_contract(
        cls,
        contract: Any,
        contract_path: str | Path,
        config: dict[str, Any],
        error: type[Exception] = ModelError,
    ) -> BacktestModel | None:
        """The contract's model in a backtest, else None.  A file that cannot be used
        raises ``error`` (the mixin passes Freqtrade's OperationalException: one line)."""
        value = contract.slippage.backtest_model
        runmode = config.get("runmode")
        if not value or str(getattr(runmode, "value", runmode)) not in SIM_RUNMODES:
            return None
        try:
            costs = apply.load_for_backtest(
                apply.model_path(contract_path, value),
                backtest_fee=config.get("fee"),
                min_fill_ratio=contract.orders.min_fill_ratio,
            )
        except ModelError as exc:
            if error is ModelError:
                raise
            raise error(f"ExecutionMixin: slippage.backtest_model: {exc}") from None
        return cls(costs, config, float(contract.slippage.backtest_bps))

    def _candle(self, pair: str, timeframe: str, signal: datetime | None) -> Any:
        """The candle after the signal candle: the one the order is placed in."""
        if signal is None:
            return None
        if self._last is not None and signal < self._last:
            # time went back: a new backtest run (a hyperopt epoch) draws from the start
            self.costs.draws.reset()
        self._last = signal
        if self._candles is None:
            self._candles = OrderCandles(self.config, timeframe)
        return self._candles.after(pair, signal)

    def entry(
        self,
        pair: str,
        side: str,
        proposed: float,
        decision_price: float | None,
        signal: datetime | None,
        timeframe: str,
    ) -> apply.Plan:
        """``signal``: the open time of the signal candle."""
        return apply.plan_entry(
            self.costs,
            pair=pair,
            side=side,
            order_type="limit",
            proposed=proposed,
            decision_price=decision_price,
            candle=self._candle(pair, timeframe, signal),
            fallback_bps=self.fallback_bps,
        )

    def exit(
        self,
        pair: str,
        side: str,
        proposed: float,
        decision_price: float | None,
        signal: datetime | None,
        timeframe: str,
    ) -> apply.Plan:
        return apply.plan_exit(
            self.costs,
            pair=pair,
            side=side,
            order_type="limit",
            proposed=proposed,
            decision_price=decision_price,
            candle=self._candle(pair, timeframe, signal),
            fallback_bps=self.fallback_bps,
        )

    def lines(self) -> list[str]:
        return apply.startup_lines(self.costs)


def startup_lines(model: BacktestModel | None, backtest_bps: float) -> list[str]:
    """``bot_start`` in a backtest: what is modelled and from what."""
    return model.lines() if model is not None else [FLAT_LINE.format(bps=backtest_bps)]


def cancels(model: BacktestModel | None, decision: Any) -> bool:
    """``check_entry_timeout``: the entry's decision carries a plan that does not fill."""
    return model is not None and apply.cancel_entry(getattr(decision, "model", None))


def stake_ratio(model: BacktestModel | None, decision: Any) -> float:
    """``custom_stake_amount``: the share of the entry the model says fills."""
    plan = (getattr(decision, "model", None) or {}) if model is not None else {}
    return float(plan.get("fill_ratio") or 1.0) if plan.get("fills", True) else 1.0
