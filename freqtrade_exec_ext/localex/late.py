"""Requests the venue executes late (the ``late_execute`` fault), as Binance's backend may.

Binance answers -1007 "Timeout waiting for response from backend server. Send status
unknown; execution status unknown." (or nothing, until the client gives up) when its
gateway loses track of a request, and the matching engine may still execute that request
afterwards, unless its ``timestamp + recvWindow`` has passed by then.  The gateway holds
such a request here with the time it is due; :meth:`LateRequests.due` hands it back then,
and the gateway executes it through the normal path (where an expired ``recvWindow`` is
refused with -1021: the request is dropped).  Every outcome is kept in :attr:`log`.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from freqtrade_exec_ext.localex import auth
from freqtrade_exec_ext.localex.errors import VenueError
from freqtrade_exec_ext.localex.messages import Plan, Reply

logger = logging.getLogger(__name__)


@dataclass(order=True)
class Held:
    due_ms: int
    seq: int
    plan: Plan = field(compare=False)
    received_ms: int = field(compare=False, default=0)


class LateRequests:
    """Held-back requests, oldest due first (thread-safe)."""

    def __init__(self) -> None:
        self._held: list[Held] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.log: list[dict[str, Any]] = []

    def hold(self, plan: Plan, due_ms: int, received_ms: int) -> None:
        with self._lock:
            self._held.append(Held(due_ms, next(self._seq), plan, received_ms))
            self._held.sort()

    def pending(self) -> int:
        with self._lock:
            return len(self._held)

    def due(self, now_ms: int) -> list[Held]:
        """The requests due at ``now_ms``, removed from the queue."""
        with self._lock:
            ready = [h for h in self._held if h.due_ms <= now_ms]
            self._held = [h for h in self._held if h.due_ms > now_ms]
        return ready

    def record(self, item: Held, reply: Reply, now_ms: int) -> dict[str, Any]:
        """Log what became of a held request: ``executed`` or ``dropped`` (with Binance's
        answer, e.g. -1021 once its ``recvWindow`` had passed)."""
        p = item.plan.params
        body = reply.body if isinstance(reply.body, dict) else {}
        try:
            last = auth.deadline(p)
        except VenueError:
            last = None
        entry = {
            "fault_id": item.plan.fault.id if item.plan.fault else None,
            "endpoint": f"{item.plan.request.method.upper()} {item.plan.request.path}",
            "symbol": p.get("symbol"),
            "client_order_id": p.get("newClientOrderId") or p.get("origClientOrderId"),
            "received_ms": item.received_ms,
            "due_ms": item.due_ms,
            "deadline_ms": last,
            "at_ms": now_ms,
            "outcome": "executed" if reply.status == 200 else "dropped",
            "status": reply.status,
            "order_id": body.get("orderId"),
            "code": body.get("code"),
            "msg": body.get("msg"),
        }
        with self._lock:
            self.log.append(entry)
        logger.info(
            "localex: late %s %s: %s (status %s)",
            entry["endpoint"],
            entry["client_order_id"] or "",
            entry["outcome"],
            reply.status,
        )
        return entry
