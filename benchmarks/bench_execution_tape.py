"""The venue's maker fills against the real tape (issue 16, item 5).

Replays ``../shared/data/binance-l2-trades-2024-08-08`` (spot BTC, USD-M BTC and ETH:
real 1 s books and trades) with ``freqtrade_exec_ext.localex.tape``: post-only orders at the
best bid/ask every 5 s ($100, $1k, $10k, buy and sell), followed 120 s on the tape (queue
ahead consumed first, cancellations ahead pro rata) and on the venue replaying 1-minute
candles of the same trades, once with the straight intra-candle path (the model before)
and once with the tape-calibrated bridge (the default now).  Prints the fill probability at
10/30/60/120 s and the median time to fill per market and source, then the bias (venue
minus tape, pooled) with its 95 % block-bootstrap interval.

Target: the default model's bias within its noise (every interval contains 0).  Runs in
``python -m benchmarks execution``; without the data folder it says so and passes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from freqtrade_exec_ext.localex import tape
from freqtrade_exec_ext.localex.intracandle import LINEAR, PathModel, default_model

SHARED = Path(
    os.environ.get("SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
RESAMPLES = int(os.environ.get("BENCH_TAPE_RESAMPLES", "1000"))


@dataclass
class Comparison:
    rows: list[tape.Row]
    before: tape.Bias
    after: tape.Bias
    model: PathModel
    cancels: dict[str, dict[int, float]]  # tape sensitivity: cancels mode -> pooled fills


def compare(root: Path, resamples: int = RESAMPLES, model: PathModel | None = None) -> Comparison:
    model = model or default_model()
    rows: list[tape.Row] = []
    before, after = [], []
    sensitivity: dict[str, list[tape.Outcome]] = {"none": [], "all": []}
    for capture in tape.CAPTURES:
        data = tape.load(root, capture)
        real = tape.tape_outcomes(data)
        for mode in sensitivity:
            sensitivity[mode] += tape.tape_outcomes(data, cancels=mode)
        linear = tape.venue_outcomes(data, path_model=LINEAR)
        bridge = tape.venue_outcomes(data, path_model=model)
        rows += [
            tape.summarize(capture.name, "tape", real),
            tape.summarize(capture.name, "venue, straight path (before)", linear),
            tape.summarize(capture.name, f"venue, bridge k={model.k:g} (now)", bridge),
        ]
        before.append((real, linear))
        after.append((real, bridge))
    pooled = {m: tape.summarize("all", m, out).fill for m, out in sensitivity.items()}
    return Comparison(
        rows, tape.bias(before, resamples), tape.bias(after, resamples), model, pooled
    )


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def table(c: Comparison) -> list[str]:
    head = "| market | source | orders | " + " | ".join(f"{h} s" for h in tape.HORIZONS_S)
    lines = [head + " | median time to fill |", "|---|---|---|---|---|---|---|---|"]
    for r in c.rows:
        cells = " | ".join(_pct(r.fill[h]) for h in tape.HORIZONS_S)
        lines.append(f"| {r.name} | {r.source} | {r.n} | {cells} | {r.median_ttf_s:.1f} s |")
    return lines


def bias_line(name: str, b: tape.Bias) -> str:
    parts = ", ".join(
        f"{h} s {b.points[h]:+.1f} [{b.low[h]:+.1f}, {b.high[h]:+.1f}]" for h in tape.HORIZONS_S
    )
    beyond = b.beyond_noise()
    verdict = (
        f"beyond its noise at {', '.join(f'{h} s' for h in beyond)}" if beyond else "within noise"
    )
    return (
        f"fill model bias, {name}: venue - tape, points (95% interval, {b.blocks} one-minute "
        f"blocks, {b.resamples} resamples): {parts}; median time to fill {b.ttf_s:+.1f} s "
        f"[{b.ttf_low:+.1f}, {b.ttf_high:+.1f}]: {verdict}"
    )


def main() -> int:
    root = tape.capture_root(SHARED)
    if not tape.available(root):
        print(f"execution tape: skipped ({root} is missing)")
        return 0
    c = compare(root)
    print(
        "execution tape: post-only orders at the best bid/ask every 5 s, $100/$1k/$10k, buy "
        "and sell, held 120 s; share fully filled within 10/30/60/120 s"
    )
    for line in table(c):
        print(line)
    print(bias_line("straight path (before)", c.before))
    print(bias_line(f"bridge k={c.model.k:g} (now)", c.after))
    sens = "; ".join(
        f"{mode}: " + "/".join(_pct(v[h]) for h in tape.HORIZONS_S) for mode, v in c.cancels.items()
    )
    print(f"tape, cancellations ahead of the order ignored or all taken (pooled): {sens}")
    return 0 if not c.after.beyond_noise() else 1


if __name__ == "__main__":
    raise SystemExit(main())
