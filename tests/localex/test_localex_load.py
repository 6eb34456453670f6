"""A reduced run of ``benchmarks/bench_venue_load.py``: the venue keeps serving every client
while slow clients hold connections open and are cut by its header timeout.

Bounds are generous (a loaded 2-core machine): every request answered 200, the probe never
left without an answer for 5 s, the slow clients cut by the venue and not by anything else.
The speed itself is the benchmark's business.
"""

from __future__ import annotations

import pytest

from benchmarks import bench_venue_load as bench

pytestmark = pytest.mark.slow


def test_the_venue_serves_everyone_while_slow_clients_hold_connections(repo_datadir) -> None:
    r = bench.run(clients=10, requests=1000, slow=100, header_timeout_s=1.0)
    assert r.baseline.all_ok, r.baseline.statuses
    assert r.attack.all_ok, r.attack.statuses
    assert len(r.attack.latencies) == 1000
    assert r.venue_alive and r.probe_failures == 0 and r.probe_answers > 0
    assert r.gap_s < 5.0
    assert r.attack.pct(0.99) < 5000  # ms
    # the slow clients were held open, and cut by the venue's header timeout (408)
    assert r.slow_peak_open >= 90
    assert set(r.slow_cut) <= {"408"} and r.venue_stats["header_timeouts"] >= 1
    assert r.venue_stats["errors"] == 0 and r.venue_stats["refused_connections"] == 0
