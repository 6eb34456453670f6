"""The chase of issue 15, played by a real FreqtradeBot in dry-run (tests/mixin's harness).

A BTC/USDT long is entered, then an exit signal places a limit sell at the ask; the market
drops, the mixin reprices the sell lower; then the kill switch runs exactly what
``freqtrade-exec kill --flatten`` asks of the REST API: stop entries, cancel the open order
(``DELETE /trades/<id>/open-order`` = ``RPC._rpc_cancel_open_order``), exit everything at
market (``POST /forceexit {"tradeid": "all", "ordertype": "market"}`` =
``RPC._rpc_force_exit``).  Everything in the database is Freqtrade's and the mixin's own.
The mixin configures ``exit_timeout_count: 1``, so Freqtrade answers the cancel of the exit
with an emergency market exit; the forceexit then finds the trade already closing.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "mixin"))

from dryrun_harness import PAIR, FakeDatetime, Harness, book  # noqa: E402
from mixin_helpers import base_config  # noqa: E402

DECIDED = 114196.67  # the first limit sell: the ask when the exit was decided
KILL_BID = 114152.78  # the bid when the kill switch sold at market


def run(tmp: Path, base_url: str, mocker: Any) -> dict[str, Any]:
    """Play the chase; returns the database URL and what happened (prices, order ids)."""
    strategies = tmp / "strategies"
    strategies.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "strategies" / "XMChase.py", strategies / "XMChase.py")
    cfg = base_config(base_url, tmp / "user_data", pairs=[PAIR], initial_state="running",
                      bot_name="chase")
    h = Harness(mocker, tmp, cfg, strategies, strategy="XMChase")
    h.bot.strategy.clock = lambda: FakeDatetime.now(UTC)  # the strategy's clock: the harness's
    try:
        return _play(h)
    finally:
        h.close_bot()


def _open_sell(trade: Any) -> Any:
    return next((o for o in trade.orders if o.ft_order_side == "sell" and o.status == "open"),
                None)


def _play(h: Harness) -> dict[str, Any]:
    from freqtrade.persistence import Trade

    h.close = 114196.66
    h.book = book(114196.66, DECIDED)
    h.step()  # maker-first entry joins the bid
    h.book = book(114196.64, 114196.66)  # the ask comes down to our bid: filled
    h.step()
    (trade,) = Trade.get_open_trades()
    assert trade.nr_of_successful_entries == 1, "the entry did not fill"
    h.book = book(114196.66, DECIDED)
    h.bot.strategy.exit_now = True
    t = 30.0
    h.advance(t)
    h.step()  # the exit signal: a limit sell joins the ask
    (trade,) = Trade.get_open_trades()
    first = _open_sell(trade)
    assert first is not None and first.ft_price == DECIDED, [
        (o.ft_order_side, o.status, o.ft_price) for o in trade.orders]
    h.book = book(114183.26, 114183.28)  # the market falls
    repriced = first
    while repriced.order_id == first.order_id and t < 30 + 220:
        t += 20
        h.advance(t)
        h.step()
        (trade,) = Trade.get_open_trades()
        repriced = _open_sell(trade) or repriced
    assert repriced.order_id != first.order_id, "the mixin never repriced the exit"
    # the kill switch, as `freqtrade-exec kill --flatten` drives it
    h.book = book(KILL_BID, KILL_BID + 0.02)
    rpc = h.bot.rpc._rpc  # what the REST API calls (api_v1: /stopentry, /trades/.., /forceexit)
    rpc._rpc_pause()
    rpc._rpc_cancel_open_order(trade.id)
    rpc._rpc_force_exit("all", ordertype="market")
    h.advance(t + 5)
    h.step()
    (trade,) = [x for x in Trade.get_trades([]).all() if x.id == trade.id]
    assert not trade.is_open, "the flatten did not close the trade"
    sells = [o for o in trade.orders if o.ft_order_side == "sell"]
    return {"url": f"sqlite:///{h.tmp / 'trades.dryrun.sqlite'}", "trade_id": trade.id,
            "sells": [(o.order_id, o.order_type, o.status, o.ft_price, o.average, o.filled)
                      for o in sells],
            "entry": next(o.order_id for o in trade.orders if o.ft_order_side == "buy"),
            "amount": float(trade.amount), "repriced": float(repriced.ft_price)}
