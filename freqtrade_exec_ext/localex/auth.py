"""Signed-request checks, as Binance does them (pure).

A private (``SIGNED``) request carries the API key in the ``X-MBX-APIKEY`` header and, in
its query string or form body, ``timestamp`` (ms), an optional ``recvWindow`` (ms, default
5000, at most 60000) and ``signature``: the lowercase hex HMAC-SHA256, keyed with the API
secret, of the query string concatenated with the body (``signature`` itself removed).

Binance rejects, with these codes (ccxt maps them to its exceptions):

* no API key: -2014 ``API-key format invalid.`` (HTTP 401);
* unknown key: -2015 ``Invalid API-key, IP, or permissions for action.`` (HTTP 401);
* no ``timestamp``/``signature``: -1102 (HTTP 400);
* ``recvWindow`` above 60000: -1131;
* a timestamp more than 1 s ahead of the server, or older than ``recvWindow``: -1021;
* a wrong signature: -1022 ``Signature for this request is not valid.``

The ``recvWindow`` rule is checked twice: when the request is received
(:func:`verify_signed`), and again when it reaches the matching engine
(:func:`check_engine_window`, under the engine's lock), because Binance refuses to execute
a request whose ``timestamp + recvWindow`` has passed by then.  Binance's rule (API docs,
"Request security" / "Timing security", spot and USDT-M alike): a SIGNED request is
processed only while ``serverTime - timestamp <= recvWindow``; ``recvWindow`` defaults to
5000 ms and may be at most 60000.  Late at the matching engine the spot API answers -1021
``Timestamp for this request is outside of the recvWindow.``, USDT-M -5028 ``Timestamp for
this request is outside of the ME recvWindow.`` (both in ccxt's binance error tables).
A request held back inside the venue (the ``latency`` and ``late_execute`` faults) is
therefore executed only inside its window, as on Binance.

Timestamps are checked against the machine's clock (the wall clock), which is what ccxt
signs with; at replay speed 1 it is also the ``/time`` the venue serves.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from freqtrade_exec_ext.localex.errors import VenueError, int_param

API_KEY_HEADER = "x-mbx-apikey"
RECV_WINDOW_DEFAULT_MS = 5_000
RECV_WINDOW_MAX_MS = 60_000
AHEAD_TOLERANCE_MS = 1_000


def strip_signature(raw: str) -> tuple[str, str | None]:
    """``(raw without the signature parameter, signature)`` of a query string or body."""
    if not raw:
        return "", None
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&"):
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def sign(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def check_api_key(headers: Mapping[str, str], keys: Mapping[str, str]) -> str:
    """The API key of the request (header lookup is case-insensitive)."""
    key = next((v for k, v in headers.items() if k.lower() == API_KEY_HEADER), None)
    if not key:
        raise VenueError(-2014, "API-key format invalid.", 401)
    if key not in keys:
        raise VenueError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return key


def verify_signed(
    *,
    query: str,
    body: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    keys: Mapping[str, str],
    now_ms: int,
) -> str:
    """Check a SIGNED request; return its API key or raise :class:`VenueError`."""
    key = check_api_key(headers, keys)
    q_payload, q_sig = strip_signature(query)
    b_payload, b_sig = strip_signature(body)
    signature = q_sig or b_sig
    if not signature:
        raise VenueError(
            -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
        )
    timestamp = int_param(params, "timestamp")
    if timestamp is None:
        raise VenueError(
            -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        )
    recv_window(params)  # -1131 before any timing check
    if timestamp > now_ms + AHEAD_TOLERANCE_MS:
        raise VenueError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    check_recv_window(params, now_ms)
    expected = sign(q_payload + b_payload, keys[key])
    if not hmac.compare_digest(expected, signature.lower()):
        raise VenueError(-1022, "Signature for this request is not valid.")
    return key


def recv_window(params: Mapping[str, str]) -> int:
    """The request's ``recvWindow`` (default 5000 ms; -1131 above 60000 or not positive)."""
    window = int_param(params, "recvWindow")
    if window is None:
        return RECV_WINDOW_DEFAULT_MS
    if window > RECV_WINDOW_MAX_MS or window <= 0:
        raise VenueError(-1131, "recvWindow must be less than 60000")
    return window


def deadline(params: Mapping[str, str]) -> int | None:
    """``timestamp + recvWindow``: the last ms Binance executes the request at (None: no
    timestamp, an unsigned request)."""
    timestamp = int_param(params, "timestamp")
    return None if timestamp is None else timestamp + recv_window(params)


def check_engine_window(params: Mapping[str, str], now_ms: int, market: str) -> None:
    """The ``recvWindow`` check on arrival at the matching engine (-1021 spot, -5028
    USDT-M: "Timestamp for this request is outside of the ME recvWindow.")."""
    if market != "usdm":
        check_recv_window(params, now_ms)
        return
    last = deadline(params)
    if last is not None and now_ms > last:
        raise VenueError(-5028, "Timestamp for this request is outside of the ME recvWindow.")


def check_recv_window(params: Mapping[str, str], now_ms: int) -> None:
    """-1021 once ``timestamp + recvWindow`` has passed at ``now_ms``.

    Binance's rule (Request security / Timing security): the request is processed only if
    ``serverTime - timestamp <= recvWindow``, ``serverTime`` being when it reaches the
    matching engine; otherwise -1021 "Timestamp for this request is outside of the
    recvWindow." and nothing is executed.
    """
    last = deadline(params)
    if last is not None and now_ms > last:
        raise VenueError(-1021, "Timestamp for this request is outside of the recvWindow.")
