"""What passes between the HTTP layer and the gateway: requests, plans, replies, and the
HTTP limits with their counters (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.faults import Fault
    from freqtrade_exec_ext.localex.routes import Route

FD_HEADROOM = 64  # descriptors kept free for files, logs and the listening socket
MIB = 1024 * 1024
UNKNOWN_ERROR = "An unknown error occurred while processing the request."
BUSY = "Server is currently overloaded with other requests. Please try again in a few minutes."


@dataclass(frozen=True)
class HttpLimits:
    """What one client may take of the server (see ``http.py``)."""

    max_body_bytes: int = MIB  # larger bodies: 413, never read
    max_header_bytes: int = 16 * 1024  # request line and headers: larger ones get 431
    header_timeout_s: float = 10.0  # request headers complete within, from the first byte
    body_timeout_s: float = 10.0  # request body complete within, from the headers
    keep_alive_s: int = 5  # idle keep-alive connections closed after
    max_connections: int = 4096  # more at once: 503 -1008 (capped below the fd limit)

    def fitted(self, max_open_files: int) -> HttpLimits:
        """The limits with the connection cap below a descriptor limit (keeping headroom;
        a negative limit is RLIM_INFINITY)."""
        if max_open_files < 0:
            return self
        cap = max(16, min(self.max_connections, max_open_files - FD_HEADROOM))
        return replace(self, max_connections=cap)


@dataclass
class HttpStats:
    """What the limits did (thread-safe enough: counters only go up, from one loop)."""

    refused_connections: int = 0
    header_timeouts: int = 0
    body_timeouts: int = 0
    too_large: int = 0
    bad_requests: int = 0
    errors: int = 0
    peak_connections: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str = ""
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    client: str = "127.0.0.1"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Plan:
    """An admitted request: run :meth:`Gateway.execute` after ``delay_s``."""

    request: Request
    route: Route
    params: dict[str, str]
    headers: dict[str, str]
    fault: Fault | None = None
    delay_s: float = 0.0
    received_ms: int | None = None  # when the venue received it (request clock)
