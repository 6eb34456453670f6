"""The local exchange under load, with slow clients held open (issue 13, item 6).

The venue runs in its own process (as ``exchange serve`` does) on loopback.  Two phases,
measured in one run on the same machine:

* **baseline**: ``CLIENTS`` concurrent keep-alive clients send ``REQUESTS`` requests in
  all (public market data, and every 10th a signed ``/api/v3/account``);
* **under attack**: the same, while ``SLOW`` slow clients are held open the whole time
  (and at least two of the venue's header timeouts): each sends half a request and drips a
  header line every second, and reconnects as soon as the venue cuts it (slowloris).

Printed: p50/p99/max latency and throughput of each phase, every answer's status, how many
slow connections the venue cut and how, and the longest gap between two answers to a probe
that asks ``/api/v3/time`` every 50 ms during the attack (the venue "alive and serving").
Target: every request of both phases answered 200, the probe never without an answer for
more than ``MAX_GAP_S``, and p99 under attack at most ``MAX_P99_RATIO`` times the baseline's.

``python -m benchmarks venue_load`` runs it; ``BENCH_VENUE_CLIENTS``, ``_REQUESTS``,
``_SLOW`` change the sizes.  The venue process itself: ``--serve PORT HEADER_TIMEOUT_S``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import itertools
import json
import os
import resource
import secrets
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
DATADIR = REPO / "user_data" / "data" / "binance"
CLIENTS = int(os.environ.get("BENCH_VENUE_CLIENTS", "50"))
REQUESTS = int(os.environ.get("BENCH_VENUE_REQUESTS", "10000"))
SLOW = int(os.environ.get("BENCH_VENUE_SLOW", "1000"))
#: the venue's header timeout here (10 s by default): short, so that the slow clients are
#: cut and reconnect several times while the clients run
HEADER_TIMEOUT_S = float(os.environ.get("BENCH_VENUE_HEADER_TIMEOUT_S", "3"))
MAX_GAP_S = 2.0
MAX_P99_RATIO = 5.0
PATHS = (
    "/api/v3/time",
    "/api/v3/depth?symbol=BTCUSDT&limit=5",
    "/api/v3/ticker/bookTicker?symbol=BTCUSDT",
    "/fapi/v1/premiumIndex?symbol=BTCUSDT",
)


# ------------------------------------------------------------------ the venue process


def serve(port: int, header_timeout_s: float) -> None:
    """Child mode: the venue on ``port`` until stdin closes (keys from the environment)."""
    from freqtrade_exec_ext.localex.messages import HttpLimits
    from freqtrade_exec_ext.localex.ratelimit import RateLimitConfig
    from freqtrade_exec_ext.localex.server import LocalExchange

    keys = {os.environ["BENCH_KEY"]: os.environ["BENCH_SECRET"]}
    limits = HttpLimits(header_timeout_s=header_timeout_s)
    with LocalExchange(
        DATADIR,
        port=port,
        api_keys=keys,
        rate_limits=RateLimitConfig(enabled=False),  # the load is the point, not the limits
        http_limits=limits,
    ) as ex:
        print(f"ready {ex.port}", flush=True)
        sys.stdin.read()  # until the parent closes it
        state = ex.gateway.http_stats.to_dict() if ex.gateway else {}
        print(json.dumps(state), flush=True)


@dataclass
class Venue:
    proc: subprocess.Popen[str]
    port: int
    key: str
    secret: str

    def stats(self) -> dict[str, int]:
        """Stop the venue; the counters of its HTTP limits."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait(timeout=60)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


def start_venue(header_timeout_s: float = 10.0) -> Venue:
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BENCH_KEY": key, "BENCH_SECRET": secret}
    cmd = [sys.executable, "-m", "benchmarks.bench_venue_load", "--serve", str(port)]
    proc = subprocess.Popen(
        [*cmd, str(header_timeout_s)],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the venue is up (or died)
    if not line.startswith("ready"):
        proc.kill()
        raise RuntimeError(f"the venue did not start: {line!r}")
    return Venue(proc, port, key, secret)


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# ------------------------------------------------------------------ clients


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int | str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    def add(self, status: int | str, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(seconds)

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")

    def line(self, name: str) -> str:
        n = len(self.latencies)
        rate = n / self.wall_s if self.wall_s else 0.0
        return (
            f"venue load ({name}): {n} requests by {CLIENTS_NOW[0]} clients: p50 "
            f"{self.pct(0.5):.1f} ms, p99 {self.pct(0.99):.1f} ms, max "
            f"{max(self.latencies, default=0) * 1000:.0f} ms, {rate:.0f} req/s; "
            f"answers {dict(sorted(self.statuses.items(), key=str))}"
        )

    @property
    def all_ok(self) -> bool:
        return set(self.statuses) == {200}


CLIENTS_NOW = [CLIENTS]


def _signed_account(venue: Venue) -> str:
    q = urlencode({"timestamp": int(time.time() * 1000), "recvWindow": 10000})
    sig = hmac.new(venue.secret.encode(), q.encode(), hashlib.sha256).hexdigest()
    return f"/api/v3/account?{q}&signature={sig}"


def _client(venue: Venue, n: int, phase: Phase, lock: threading.Lock, offset: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", venue.port, timeout=30)
    headers = {"X-MBX-APIKEY": venue.key}
    for i in range(n):
        k = offset + i
        path = _signed_account(venue) if k % 10 == 9 else PATHS[k % len(PATHS)]
        t0 = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status: int | str = resp.status
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", venue.port, timeout=30)
        dt = time.perf_counter() - t0
        with lock:
            phase.add(status, dt)
    conn.close()


def run_clients(venue: Venue, clients: int, requests: int) -> Phase:
    phase, lock = Phase(), threading.Lock()
    per = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    threads = [
        threading.Thread(target=_client, args=(venue, n, phase, lock, sum(per[:i])))
        for i, n in enumerate(per)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.wall_s = time.perf_counter() - t0
    return phase


class SlowClients:
    """``n`` half-sent requests held open; each reconnects as soon as the venue cuts it."""

    def __init__(self, port: int, n: int) -> None:
        self.port, self.n = port, n
        self.sel = selectors.DefaultSelector()
        self.cut: dict[str, int] = {}
        self.opened = 0
        self.peak_open = 0  # half-sent requests open at once, at most
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> None:
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", self.port))
        self.sel.register(s, selectors.EVENT_WRITE, "connecting")
        self.opened += 1

    def _event(self, s: socket.socket, state: str) -> None:
        if state == "connecting":
            try:
                s.send(b"GET /api/v3/time HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            except OSError:
                self._lost(s, "connect failed")
                return
            self.sel.modify(s, selectors.EVENT_READ, "open")
            return
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        word = data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        self._lost(s, (word.split()[1:2] or ["closed"])[0])

    def _lost(self, s: socket.socket, how: str) -> None:
        self.cut[how] = self.cut.get(how, 0) + 1
        self.sel.unregister(s)
        s.close()
        if not self.stop.is_set():
            self._open()

    def _drip(self) -> None:
        for key in list(self.sel.get_map().values()):
            if key.data == "open":
                with contextlib.suppress(OSError):
                    key.fileobj.send(b"X-Slow: 1\r\n")  # type: ignore[union-attr]

    def _run(self) -> None:
        for _ in range(self.n):
            self._open()
        last = time.monotonic()
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                self._event(key.fileobj, key.data)  # type: ignore[arg-type]
            self.peak_open = max(self.peak_open, self.open_now())
            if time.monotonic() - last >= 1.0:
                self._drip()
                last = time.monotonic()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    def open_now(self) -> int:
        return sum(1 for k in self.sel.get_map().values() if k.data == "open")

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 60
        while self.open_now() < self.n * 0.95 and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


class Probe:
    """``/api/v3/time`` every 50 ms on its own connection: the gaps between answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: list[float] = []
        self.failures = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            try:
                conn.request("GET", "/api/v3/time")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    self.answers.append(time.monotonic())
                else:
                    self.failures += 1
            except (OSError, http.client.HTTPException):
                self.failures += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.stop.wait(0.05)
        conn.close()

    def longest_gap(self) -> float:
        xs = self.answers
        return max((b - a for a, b in itertools.pairwise(xs)), default=float("inf"))

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


# ------------------------------------------------------------------ the benchmark


@dataclass
class Result:
    baseline: Phase
    attack: Phase
    slow_cut: dict[str, int]
    slow_opened: int
    slow_peak_open: int
    gap_s: float
    probe_answers: int
    probe_failures: int
    venue_alive: bool
    venue_stats: dict[str, int]

    @property
    def p99_ratio(self) -> float:
        return self.attack.pct(0.99) / max(self.baseline.pct(0.99), 1e-9)

    @property
    def ok(self) -> bool:
        return (
            self.baseline.all_ok
            and self.attack.all_ok
            and self.venue_alive
            and self.probe_failures == 0
            and self.gap_s <= MAX_GAP_S
            and self.p99_ratio <= MAX_P99_RATIO
        )


def run(clients: int, requests: int, slow: int, header_timeout_s: float = 10.0) -> Result:
    raise_fd_limit(2 * (slow + clients) + 256)
    CLIENTS_NOW[0] = clients
    venue = start_venue(header_timeout_s)
    try:
        run_clients(venue, clients, min(requests, 500))  # warm-up: imports, books, caches
        baseline = run_clients(venue, clients, requests)
        with SlowClients(venue.port, slow) as slowloris, Probe(venue.port) as probe:
            t0 = time.monotonic()
            attack = run_clients(venue, clients, requests)
            # hold them at least two header timeouts, until the venue has cut some
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                time.monotonic() - t0 < 2 * header_timeout_s or not slowloris.cut
            ):
                time.sleep(0.05)
        alive = venue.proc.poll() is None
    finally:
        stats = venue.stats() if venue.proc.poll() is None else {}
        if venue.proc.poll() is None:
            venue.proc.kill()
    return Result(
        baseline, attack, dict(slowloris.cut), slowloris.opened, slowloris.peak_open,
        probe.longest_gap(), len(probe.answers), probe.failures, alive, stats,
    )  # fmt: skip


def main() -> int:
    if not (DATADIR / "BTC_USDT-5m.feather").is_file():
        print(f"venue load: skipped (no candles in {DATADIR})")
        return 0
    r = run(CLIENTS, REQUESTS, SLOW, HEADER_TIMEOUT_S)
    print(r.baseline.line("baseline"))
    print(r.attack.line(f"{SLOW} slow clients held open, header timeout {HEADER_TIMEOUT_S:g} s"))
    print(
        f"venue load: slow connections opened {r.slow_opened}, cut by the venue "
        f"{dict(sorted(r.slow_cut.items()))}, at most {r.slow_peak_open} open at once; "
        f"probe: {r.probe_answers} answers, {r.probe_failures} failures, longest gap "
        f"{r.gap_s:.2f} s (target <= {MAX_GAP_S:g}); venue counters {r.venue_stats}"
    )
    print(
        f"venue load: p99 with slow clients / baseline = {r.p99_ratio:.2f} (target <= "
        f"{MAX_P99_RATIO:g}); venue alive and serving: {'yes' if r.ok else 'NO'}"
    )
    return 0 if r.ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit(main())
