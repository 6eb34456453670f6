"""``/_admin/*``: drive the venue over HTTP (faults, venue-side cancels, state, fills).

Not a Binance path.  The server only listens on loopback.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from freqtrade_exec_ext.localex.faults import FaultError
from freqtrade_exec_ext.localex.messages import Reply, Request

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.gateway import Gateway


def handle(gw: Gateway, req: Request) -> Reply:
    """One ``/_admin/<name>`` call."""
    name = req.path[len("/_admin/") :].strip("/")
    method = req.method.upper()
    try:
        payload = json.loads(req.body) if req.body.strip() else None
    except ValueError:
        return Reply(400, {"error": "body is not JSON"})
    try:
        if name == "faults":
            return _faults(gw, method, payload)
        if name == "cancel" and method == "POST":
            if not isinstance(payload, dict) or "order_id" not in payload:
                return Reply(400, {"error": 'expected {"order_id": <id>}'})
            o = gw.engine.venue_cancel(int(payload["order_id"]), payload.get("status", "CANCELED"))
            return Reply(200, {"order_id": o.order_id, "status": o.status})
        if name == "state" and method == "GET":
            return Reply(200, state(gw))
        if name == "fills" and method == "GET":
            return Reply(200, [fill_dict(f) for f in gw.engine.fills])
    except (FaultError, KeyError, ValueError, TypeError) as exc:
        return Reply(400, {"error": str(exc)})
    return Reply(404, {"error": f"unknown admin call {method} /_admin/{name}"})


def _faults(gw: Gateway, method: str, payload: Any) -> Reply:
    if method == "GET":
        return Reply(
            200,
            {
                "faults": [f.to_dict() for f in gw.faults.active()],
                "history": list(gw.faults.history),
            },
        )
    if method == "DELETE":
        gw.faults.clear()
        return Reply(200, {"cleared": True})
    if method == "POST":
        items = payload.get("faults", payload) if isinstance(payload, dict) else payload
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            return Reply(400, {"error": "expected a fault object or a list of them"})
        added = gw.faults.extend(items)
        return Reply(200, {"added": [f.id for f in added]})
    return Reply(405, {"error": f"{method} /_admin/faults: use GET, POST or DELETE"})


def state(gw: Gateway) -> dict[str, Any]:
    """What ``GET /_admin/state`` answers."""
    eng = gw.engine
    with eng.lock:
        eng.step()
        return {
            "spot_balances": {a: {"free": b[0], "locked": b[1]} for a, b in eng.spot.items()},
            "futures_wallet": eng.wallet,
            "positions": {
                s: {
                    "amount": p.amount,
                    "entry_price": p.entry_price,
                    "leverage": p.leverage,
                    "margin_type": p.margin_type,
                }
                for s, p in eng.positions.items()
                if p.amount != 0
            },
            "open_orders": [
                {
                    "order_id": o.order_id,
                    "market": o.market,
                    "symbol": o.symbol,
                    "side": o.side,
                    "type": o.type,
                    "status": o.status,
                    "orig_qty": o.orig_qty,
                    "executed_qty": o.executed_qty,
                }
                for o in eng.orders.values()
                if o.is_open
            ],
            "orders": len(eng.orders),
            "fills": len(eng.fills),
            "rate_limit": {
                "answers": gw.limiter.status_counts(),
                "bans": gw.limiter.bans(),
            },
            "faults_fired": len(gw.faults.history),
            "requests": gw.requests,
        }


def fill_dict(f: Any) -> dict[str, Any]:
    return {
        "trade_id": f.trade_id,
        "order_id": str(f.order_id),
        "market": f.market,
        "symbol": f.symbol,
        "side": f.side,
        "price": f.price,
        "qty": f.qty,
        "quote_qty": f.quote_qty,
        "commission": f.commission,
        "commission_asset": f.commission_asset,
        "time": f.time,
        "is_maker": f.is_maker,
        "realized_pnl": f.realized_pnl,
    }
