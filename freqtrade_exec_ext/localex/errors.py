"""Binance-style errors of the local exchange (pure)."""

from __future__ import annotations

from typing import Any


class VenueError(Exception):
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
