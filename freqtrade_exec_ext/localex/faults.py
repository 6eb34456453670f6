"""Fault injection scripted per test (pure).

A :class:`Fault` matches requests by endpoint (``"POST /api/v3/order"``; the method may be
left out; ``*`` and ``?`` are shell wildcards, so ``"* /fapi/*"`` matches every USDT-M
path) and optionally by symbol.  It lets ``after`` matching requests through, then fires
on the next ``count`` ones (``count=None``: on all of them), and is then spent.

Kinds (what the client sees; "executed" = whether the venue carried the request out):

===============  =========================================================  =========
kind             answer                                                     executed
===============  =========================================================  =========
``latency``      the normal answer, ``delay_s`` late                        yes
``timeout``      nothing for ``delay_s`` (default 15 s; longer than the      ``execute``
                 client's timeout), then HTTP 504 / -1007
``http_error``   HTTP ``status`` (default 503) with a Binance error body     no
``rate_limit``   HTTP 429 / -1003 with ``Retry-After: retry_after_s``; the   no
                 client must back off like after a real 429 (else 418)
``ban``          HTTP 418 / -1003, IP banned for ``ban_s``                   no
``reject``       HTTP 400 with ``reason`` ``insufficient_balance`` or        no
                 ``min_notional`` (Binance's codes per market), or your own
                 ``code``/``msg``
``ambiguous``    the order **is** created, but the answer is an error:       yes
                 HTTP ``status`` (default 503) / -1007 "execution status
                 unknown"
``partial_fill`` the created order can fill at most ``ratio`` of its         yes
                 quantity (market orders expire the rest; limit orders stay
                 open, partially filled)
``venue_cancel`` the created order is cancelled by the venue ``delay_s``     yes
                 after creation (status ``status_text``: CANCELED/EXPIRED)
``late_execute`` HTTP ``status`` (default 504) / -1007 "execution status     later,
                 unknown" after ``delay_s`` (default 0; longer than the      inside
                 client's timeout: the connection is held until the client   its
                 gives up); the venue executes the request                   recv-
                 ``execute_after_s`` (default 2) after it arrived, unless    Window
                 its ``timestamp + recvWindow`` has passed by then (dropped)
===============  =========================================================  =========

Scripts load from JSON or YAML: a list of fault objects, or ``{"faults": [...]}``.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.errors import InputRefused

KINDS = (
    "latency",
    "timeout",
    "http_error",
    "rate_limit",
    "ban",
    "reject",
    "ambiguous",
    "partial_fill",
    "venue_cancel",
    "late_execute",
)
# kinds that change how an order is created rather than the HTTP answer
ORDER_KINDS = ("partial_fill", "venue_cancel")
REJECT_REASONS = ("insufficient_balance", "min_notional")
METHODS = ("GET", "POST", "PUT", "DELETE")
MAX_DELAY_S = 3600.0  # delays, timeouts and back-offs a fault may ask for
MAX_BAN_S = 3 * 86_400.0  # Binance's longest IP ban


class FaultError(InputRefused, ValueError):
    """A fault description that cannot be used."""


@dataclass
class Fault:
    kind: str
    endpoint: str = "*"
    count: int | None = 1
    after: int = 0
    symbol: str | None = None
    delay_s: float | None = None
    status: int | None = None
    code: int | None = None
    msg: str | None = None
    reason: str | None = None
    ratio: float = 0.5
    retry_after_s: float = 1.0
    ban_s: float = 120.0
    execute: bool = False
    status_text: str = "CANCELED"
    execute_after_s: float = 2.0
    id: int = 0
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"fault kind {self.kind!r}: allowed {', '.join(KINDS)}")
        _check_numbers(self)
        if self.kind == "reject" and self.reason is None and self.code is None:
            raise FaultError(
                f"reject fault: give reason ({', '.join(REJECT_REASONS)}) or code and msg"
            )
        if self.reason is not None and self.reason not in REJECT_REASONS:
            raise FaultError(f"fault reason {self.reason!r}: allowed {', '.join(REJECT_REASONS)}")
        if self.status_text not in ("CANCELED", "EXPIRED"):
            raise FaultError(f"fault status_text {self.status_text!r}: CANCELED or EXPIRED")
        method, _ = self._split()
        if method is not None and method not in METHODS and method != "*":
            raise FaultError(
                f"fault endpoint {self.endpoint!r}: start with one of {', '.join(METHODS)} "
                "or give a path only"
            )

    def _split(self) -> tuple[str | None, str]:
        parts = self.endpoint.strip().split(None, 1)
        if len(parts) == 2:
            return parts[0].upper(), parts[1]
        return None, parts[0] if parts else "*"

    def matches(self, method: str, path: str, symbol: str | None) -> bool:
        want_method, want_path = self._split()
        if want_method not in (None, "*") and want_method != method.upper():
            return False
        if not fnmatch.fnmatchcase(path, want_path):
            return False
        return self.symbol is None or self.symbol == symbol

    @property
    def spent(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: numeric fields: (smallest, largest) allowed; counts are integers, the rest numbers
_RANGES: dict[str, tuple[float, float]] = {
    "count": (1, 1e9),
    "after": (0, 1e9),
    "delay_s": (0, MAX_DELAY_S),
    "status": (100, 599),
    "code": (-1e9, 1e9),
    "ratio": (0, 1),
    "retry_after_s": (0, MAX_DELAY_S),
    "ban_s": (0, MAX_BAN_S),
    "execute_after_s": (0, MAX_DELAY_S),
}
_INTEGERS = ("count", "after", "status", "code")


def _check_numbers(fault: Fault) -> None:
    """Every numeric field a finite number in its range (a JSON 1e400 is infinite)."""
    for name, (lo, hi) in _RANGES.items():
        value = getattr(fault, name)
        if value is None and name in ("count", "delay_s", "status", "code"):
            continue
        whole = name in _INTEGERS
        ok_type = isinstance(value, int) if whole else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not (lo <= value <= hi):
            kind = "an integer" if whole else "a number"
            raise FaultError(f"fault {name} {value!r}: {kind} within {lo:g}..{hi:g}")


_FIELDS = {f.name for f in fields(Fault)} - {"id", "seen", "fired"}


def fault_from_dict(data: dict[str, Any]) -> Fault:
    if not isinstance(data, dict):
        raise FaultError(f"fault {data!r}: expected an object with a 'kind'")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise FaultError(
            f"fault {data.get('kind', '?')}: unknown field(s) {', '.join(unknown)}; allowed "
            f"{', '.join(sorted(_FIELDS))}"
        )
    if "kind" not in data:
        raise FaultError(f"fault {data!r}: missing 'kind' ({', '.join(KINDS)})")
    try:
        return Fault(**data)
    except TypeError as exc:
        raise FaultError(f"fault {data!r}: {exc}") from None


class FaultScript:
    """The faults in force on one venue (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1
        self._lock = threading.Lock()
        self.history: list[dict[str, Any]] = []  # every firing: kind, endpoint, symbol

    def add(self, **kwargs: Any) -> Fault:
        """``add(endpoint="POST /api/v3/order", kind="ambiguous", count=1)``."""
        fault = fault_from_dict(kwargs)
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def extend(self, items: list[dict[str, Any]]) -> list[Fault]:
        faults = [fault_from_dict(d) for d in items]  # validate all before adding any
        with self._lock:
            for f in faults:
                f.id = self._next_id
                self._next_id += 1
                self._faults.append(f)
        return faults

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.spent]

    def fire(
        self, method: str, path: str, symbol: str | None, *, creates_order: bool = False
    ) -> Fault | None:
        """The fault that applies to this request, counted as fired (at most one).

        Order-level kinds (``partial_fill``, ``venue_cancel``) only apply to requests that
        create an order.
        """
        with self._lock:
            for f in self._faults:
                if f.spent or not f.matches(method, path, symbol):
                    continue
                if f.kind in ORDER_KINDS and not creates_order:
                    continue
                f.seen += 1
                if f.seen <= f.after:
                    continue
                f.fired += 1
                self.history.append(
                    {"id": f.id, "kind": f.kind, "endpoint": f"{method} {path}", "symbol": symbol}
                )
                return f
            return None

    def fired(self, kind: str | None = None) -> int:
        with self._lock:
            return sum(1 for h in self.history if kind is None or h["kind"] == kind)


def load_fault_file(path: Path) -> list[dict[str, Any]]:
    """Fault dicts from a JSON or YAML file (validated)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise FaultError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is one line for the user
        raise FaultError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if isinstance(data, dict) and "faults" in data:
        data = data["faults"]
    if not isinstance(data, list):
        raise FaultError(f"{path}: expected a list of faults or {{'faults': [...]}}")
    out = []
    for i, item in enumerate(data):
        try:
            fault_from_dict(item)
        except FaultError as exc:
            raise FaultError(f"{path}: faults[{i}]: {exc}") from None
        out.append(item)
    return out


@dataclass
class OrderFaults:
    """What order-level faults ask of a new order."""

    fill_cap_ratio: float | None = None
    cancel_after_ms: int | None = None
    cancel_status: str = "CANCELED"
    fault_ids: list[int] = field(default_factory=list)
