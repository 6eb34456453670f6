"""``/_admin/*``: drive the venue over HTTP (faults, venue-side cancels, state, fills).

Not a Binance path.  The server only listens on loopback, and every admin call needs:

* the per-run token, as ``Authorization: Bearer <token>`` (401 otherwise); the venue makes
  a random one at start (or takes one it is given) and never logs it;
* no ``Origin`` header (403): browsers send one with every cross-origin request, so a web
  page cannot script the venue;
* a loopback ``Host`` (403): a DNS-rebound name pointing at 127.0.0.1 is refused.

Errors are Binance-style ``{"code", "msg"}`` JSON like every other answer.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from typing import TYPE_CHECKING, Any

from freqtrade_exec_ext.localex.faults import FaultError
from freqtrade_exec_ext.localex.messages import Reply, Request, error

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.gateway import Gateway


HOW = "Authorization: Bearer <token>"
UNAUTHORIZED = -1002  # Binance: "You are not authorized to execute this request."
BAD_INPUT = -1100
NOT_FOUND = -1000


def new_admin_token() -> str:
    return secrets.token_urlsafe(32)


def _header(req: Request, name: str) -> str | None:
    return next((v for k, v in req.headers.items() if k.lower() == name), None)


def _loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def authorized(gw: Gateway, req: Request) -> Reply | None:
    """None when the admin call may go ahead; else the refusal."""
    if _header(req, "origin") is not None:
        return Reply(
            403, error(UNAUTHORIZED, "localex admin: requests from a web page (Origin) are refused")
        )
    host = _header(req, "host")
    if host is not None and not _loopback_host(host):
        return Reply(403, error(UNAUTHORIZED, "localex admin: Host must be a loopback address"))
    auth = _header(req, "authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), gw.admin_token.encode()
    ):
        return Reply(401, error(UNAUTHORIZED, f"localex admin: missing or wrong token ({HOW})"))
    return None


def handle(gw: Gateway, req: Request) -> Reply:
    """One ``/_admin/<name>`` call."""
    name = req.path[len("/_admin/") :].strip("/")
    method = req.method.upper()
    try:
        payload = json.loads(req.body, parse_constant=_no_constant) if req.body.strip() else None
    except (ValueError, RecursionError):
        return Reply(400, error(BAD_INPUT, "localex admin: the body is not JSON (or too deep)"))
    try:
        if name == "faults":
            return _faults(gw, method, payload)
        if name == "cancel" and method == "POST":
            body: dict[str, Any] = payload if isinstance(payload, dict) else {}
            oid = body.get("order_id")
            if isinstance(oid, str) and oid.isdigit():
                oid = int(oid)
            if not isinstance(oid, int) or isinstance(oid, bool):
                return Reply(
                    400, error(BAD_INPUT, 'localex admin: expected {"order_id": <integer id>}')
                )
            o = gw.engine.venue_cancel(oid, body.get("status", "CANCELED"))
            return Reply(200, {"order_id": o.order_id, "status": o.status})
        if name == "state" and method == "GET":
            return Reply(200, state(gw))
        if name == "fills" and method == "GET":
            return Reply(200, [fill_dict(f) for f in gw.engine.fills])
    except (FaultError, KeyError, ValueError, TypeError, OverflowError) as exc:
        return Reply(400, error(BAD_INPUT, f"localex admin: {exc}"))
    return Reply(404, error(NOT_FOUND, f"localex admin: unknown call {method} /_admin/{name}"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


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
            return Reply(400, error(BAD_INPUT, "localex admin: expected a fault object or a list"))
        added = gw.faults.extend(items)
        return Reply(200, {"added": [f.id for f in added]})
    return Reply(
        405, error(NOT_FOUND, f"localex admin: {method} /_admin/faults: use GET, POST or DELETE")
    )


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
            "late_requests": {"pending": gw.late.pending(), "outcomes": list(gw.late.log)},
            "http": gw.http_stats.to_dict(),
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
