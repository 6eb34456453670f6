"""The venue under hostile input, over real sockets (issue 13, item 6).

Each test reproduces one finding against a running server: huge bodies, half-sent
requests, connection floods, ``X-Forwarded-For``, a web page driving ``/_admin``, and
errors that were plain text or showed Python exceptions.  Short limits keep the tests fast;
every wait has a generous deadline and ends on the event it waits for.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from freqtrade_exec_ext.localex import auth
from freqtrade_exec_ext.localex.messages import MIB, UNKNOWN_ERROR, HttpLimits
from freqtrade_exec_ext.localex.server import LocalExchange

pytestmark = pytest.mark.slow  # real servers, real sockets, real timeouts

KEY, SECRET = secrets.token_hex(16), secrets.token_hex(32)
LIMITS = HttpLimits(header_timeout_s=1.0, body_timeout_s=1.0, max_connections=64)
DEADLINE_S = 20.0  # for anything the venue should do "within a limit"


@pytest.fixture(scope="module")
def venue(repo_datadir: Path) -> Iterator[LocalExchange]:
    with LocalExchange(repo_datadir, api_keys={KEY: SECRET}, http_limits=LIMITS) as ex:
        yield ex


@pytest.fixture(autouse=True)
def _clean(venue: LocalExchange) -> Iterator[None]:
    venue.faults.clear()
    yield
    venue.faults.clear()


def _connect(venue: LocalExchange, timeout: float = DEADLINE_S) -> socket.socket:
    return socket.create_connection(("127.0.0.1", venue.port), timeout=timeout)


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return out


def _parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, json.loads(body) if body else None


def _assert_binance_error(status: int, headers: dict[str, str], body: Any) -> None:
    assert status >= 400
    assert headers.get("content-type") == "application/json"
    assert isinstance(body, dict) and set(body) == {"code", "msg"}
    assert isinstance(body["code"], int) and body["code"] < 0
    for tell in ("Traceback", "Error(", "Exception", 'File "'):
        assert tell not in body["msg"]


def _http(venue: LocalExchange, path: str, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    req = urllib.request.Request(
        venue.base_url + path, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE_S) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read())


def _signed(path: str, **params: Any) -> str:
    q = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return f"{path}?{q}&signature={auth.sign(q, SECRET)}"


# ---------------------------------------------------------------- bodies


def test_a_huge_body_is_refused_on_its_length_without_being_read(venue) -> None:
    """Finding: one unauthenticated 200 MB POST froze the venue for 96 s and took 7.7 GB."""
    with _connect(venue) as s:
        s.sendall(
            b"POST /api/v3/order HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            b"application/x-www-form-urlencoded\r\nContent-Length: 209715200\r\n\r\n"
        )
        sent = 0
        chunk = b"a=b&" * 16384  # 64 KiB
        try:  # keep sending: the venue answers and closes long before 200 MB
            while sent < 200 * MIB:
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        raw = _read_all(s)
    status, headers, body = _parse(raw)
    assert status == 413 and headers.get("connection") == "close"
    _assert_binance_error(status, headers, body)
    assert "1048576" in body["msg"]
    assert sent < 64 * MIB  # the venue stopped reading (socket buffers only)
    assert _http(venue, "/api/v3/time")[0] == 200  # and kept serving


def test_a_chunked_body_is_cut_as_soon_as_it_passes_the_limit(venue) -> None:
    with _connect(venue) as s:
        s.sendall(
            b"POST /api/v3/order HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"a" * 65536
        try:
            for _ in range(64):  # 4 MiB, in 64 KiB chunks
                s.sendall(b"10000\r\n" + piece + b"\r\n")
        except OSError:
            pass
        status, headers, body = _parse(_read_all(s))
    assert status == 413
    _assert_binance_error(status, headers, body)


def test_a_body_that_never_arrives_times_out(venue) -> None:
    with _connect(venue) as s:
        s.sendall(b"POST /api/v3/order HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
        s.sendall(b"symbol=BTC")
        t0 = time.monotonic()
        status, headers, body = _parse(_read_all(s))
    assert status == 408 and time.monotonic() - t0 < DEADLINE_S
    _assert_binance_error(status, headers, body)


# ---------------------------------------------------------------- connections


def test_half_sent_requests_are_timed_out_and_closed(venue) -> None:
    """Finding: 4,000 half-sent requests were never timed out."""
    before = venue.http_stats.header_timeouts
    socks = []
    for i in range(40):
        s = _connect(venue)
        if i % 2:
            s.sendall(b"GET /api/v3/time HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line
        socks.append(s)  # (and half of them send nothing at all)
    answers = []
    for s in socks:
        with s:
            answers.append(_parse(_read_all(s)))  # returns once the venue closes
    assert {a[0] for a in answers} == {408}
    for status, headers, body in answers:
        _assert_binance_error(status, headers, body)
    assert venue.http_stats.header_timeouts - before == 40
    assert _http(venue, "/api/v3/time")[0] == 200


def test_slowloris_dripping_a_byte_at_a_time_is_cut_at_the_header_deadline(venue) -> None:
    with _connect(venue) as s:
        t0 = time.monotonic()
        closed = False
        for byte in b"GET /api/v3/time HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 400:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.05)
            if time.monotonic() - t0 > DEADLINE_S:
                break
        raw = b"" if closed else _read_all(s)
    assert time.monotonic() - t0 < DEADLINE_S
    if raw:
        assert _parse(raw)[0] == 408


def test_connections_over_the_cap_get_a_clean_refusal_and_the_venue_recovers(venue) -> None:
    """Finding: 20,000 half-open connections exhausted the venue's file descriptors."""
    socks = [_connect(venue) for _ in range(LIMITS.max_connections + 30)]
    try:
        refused = []
        for s in socks[LIMITS.max_connections :]:
            s.settimeout(DEADLINE_S)
            refused.append(_parse(_read_all(s)))
        assert len(refused) >= 30
        for status, headers, body in refused:
            assert status == 503 and body["code"] == -1008
            _assert_binance_error(status, headers, body)
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + DEADLINE_S  # the venue notices the closed sockets
    while _try_time(venue) != 200:
        assert time.monotonic() < deadline, "the venue did not recover its connection slots"
        time.sleep(0.1)


def _try_time(venue: LocalExchange) -> int | None:
    try:
        return _http(venue, "/api/v3/time")[0]
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- headers, admin


def test_x_forwarded_for_does_not_escape_a_ban(venue) -> None:
    """Finding: while 127.0.0.1 was banned, X-Forwarded-For: 10.9.9.9 got 200."""
    venue.faults.add(kind="ban", ban_s=2)
    assert _http(venue, "/api/v3/time")[0] == 418
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        value = "for=10.9.9.9" if header == "Forwarded" else "10.9.9.9"
        assert _http(venue, "/api/v3/time", headers={header: value})[0] == 418
    deadline = time.monotonic() + DEADLINE_S
    while _try_time(venue) != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_a_web_page_cannot_drive_the_admin_api(venue) -> None:
    """Finding: POST /_admin/faults with text/plain and an Origin was accepted."""
    body = json.dumps({"kind": "http_error"}).encode()
    evil = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
    token = {"Authorization": f"Bearer {venue.admin_token}"}
    for headers, status in (
        (evil, 403),
        ({**evil, **token}, 403),
        ({"Content-Type": "application/json"}, 401),
        ({**token, "Host": "evil.example"}, 403),
    ):
        got = _http(venue, "/_admin/faults", "POST", body, headers)
        assert got[0] == status
        _assert_binance_error(*got)
    assert venue.faults.active() == []
    assert _http(venue, "/_admin/state")[0] == 401
    assert _http(venue, "/_admin/state", headers=token)[0] == 200
    status, _, ready = _http(venue, "/_localex/ready")  # the probe needs no token
    assert (status, ready["ready"]) == (200, True)


# ---------------------------------------------------------------- error answers


def test_every_error_answer_is_binance_json_without_python_in_it(venue, monkeypatch) -> None:
    """Finding: plain 'Internal Server Error' and '-1000 ... RecursionError' answers."""
    token = {"Authorization": f"Bearer {venue.admin_token}", "Content-Type": "application/json"}
    deep = "[" * 5000 + "]" * 5000
    cases = [
        _http(venue, f"/api/v3/ticker/24hr?symbols={deep}"),
        _http(venue, "/_admin/faults", "POST", deep.encode(), token),
        _http(venue, "/_admin/faults", "POST", b'{"kind": "latency", "delay_s": 1e400}', token),
        _http(venue, "/_admin/faults", "POST", b'{"kind": "latency", "delay_s": NaN}', token),
        _http(
            venue,
            "/_admin/faults",
            "POST",
            b'{"kind": "late_execute", "execute_after_s": 1e400}',
            token,
        ),
        _http(venue, "/api/v3/time", "PATCH"),
        _http(venue, "/nope"),
    ]
    for value in ("1e400", "nan", "-1", "1e-3", "inf"):
        path = _signed(
            "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
            quantity="0.001", price=value,
        )  # fmt: skip
        cases.append(_http(venue, path, "POST", headers={"X-MBX-APIKEY": KEY}))
    for status, headers, body in cases:
        _assert_binance_error(status, headers, body)
    assert cases[0][2]["code"] == -1100  # symbols: not a list of names
    assert cases[-1][2] == {
        "code": -1100,
        "msg": "Illegal characters found in parameter 'price'; legal range is "
        "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
    }
    assert venue.faults.active() == []  # none of the bad faults got in
    # a bug inside the venue: 500, Binance's -1000, nothing of the exception
    assert venue.venue is not None

    def boom() -> int:
        raise RuntimeError("secret detail of a venue bug")

    monkeypatch.setattr(venue.venue, "server_time", boom)
    status, headers, body = _http(venue, "/api/v3/time")
    assert (status, body) == (500, {"code": -1000, "msg": UNKNOWN_ERROR})
    monkeypatch.undo()
    assert _http(venue, "/api/v3/time")[0] == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /api/v3/time HTTP/1.1\r\nHost: a\r\nbad header line\r\n\r\n",
        b"NOT-HTTP\r\n\r\n",
        b"GET /api/v3/time HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
        b"GET /api/v3/time HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
    ],
    ids=["bad-header", "not-http", "negative-length", "70k-header"],
)
def test_malformed_requests_get_a_json_400(venue, request_bytes) -> None:
    with _connect(venue) as s:
        s.sendall(request_bytes)
        status, headers, body = _parse(_read_all(s))
    assert status == (431 if len(request_bytes) > LIMITS.max_header_bytes else 400)
    _assert_binance_error(status, headers, body)
