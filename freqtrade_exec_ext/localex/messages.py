"""What passes between the HTTP layer and the gateway: requests, plans, replies (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.faults import Fault
    from freqtrade_exec_ext.localex.routes import Route


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
