"""Binance-style errors of the local exchange (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from freqtrade_exec_ext.errors import InputRefused


class VenueError(InputRefused):
    """A request Binance would refuse: carries Binance's error code and HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def invalid_symbol() -> VenueError:
    return VenueError(-1121, "Invalid symbol.")


def missing_param(name: str) -> VenueError:
    return VenueError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal_param(name: str) -> VenueError:
    return VenueError(-1100, f"Illegal characters found in parameter '{name}'.")


def int_param(params: Mapping[str, str], name: str) -> int | None:
    """An optional integer request parameter (None when absent or empty; else -1100)."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise illegal_param(name) from None
