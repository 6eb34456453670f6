"""Small statistics for the execution model (pure numpy; no I/O, no Freqtrade)."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054


def wilson(successes: int, n: int) -> tuple[float, float, float]:
    """(share, low, high): a proportion with its 95 % Wilson interval."""
    if n <= 0:
        return 1.0, 0.0, 1.0
    p = successes / n
    z2 = Z95 * Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def mean_ci(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """(mean, low, high): the mean with a normal 95 % interval (None below 2 values)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return 0.0, None, None
    m = float(x.mean())
    if x.size < 2:
        return m, None, None
    half = Z95 * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, m - half, m + half


def median_ci(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """(median, low, high): the median with its distribution-free 95 % interval (order
    statistics of the binomial); None bounds when the sample is too small."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return 0.0, None, None
    med = float(np.median(x))
    if n < 6:
        return med, None, None
    half = Z95 * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half) - 1)
    return med, float(x[lo]), float(x[hi])


def slices(values: Sequence[float], k: int) -> list[float]:
    """A distribution as ``k`` equal-probability slices, each the mean of its share of the
    sorted sample (fractional at the edges); empty for no values.

    Drawing a slice uniformly gives exactly the sample's mean (a few large costs keep
    their weight), and its median within one slice.
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return []
    cum = np.concatenate([[0.0], np.cumsum(x)])

    def upto(r: float) -> float:  # sum of the sample over ranks [0, r)
        i = min(math.floor(r), n - 1)
        return float(cum[i] + (r - i) * x[i])

    edges = [i * n / k for i in range(k + 1)]
    return [(upto(b) - upto(a)) / (b - a) for a, b in itertools.pairwise(edges)]


def slice_at(sl: Sequence[float], u: float) -> float:
    """The slice a uniform ``u`` in [0, 1) falls in."""
    return float(sl[min(int(u * len(sl)), len(sl) - 1)])


def slices_median(sl: Sequence[float]) -> float:
    k = len(sl)
    return float(sl[k // 2]) if k % 2 else float((sl[k // 2 - 1] + sl[k // 2]) / 2)


def ols(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float, float, int]:
    """Least squares ``y = a + b x``: (a, b, se_a, se_b, n)."""
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    n = xs.size
    if n < 3:
        raise ValueError("need at least 3 points")
    xm, ym = xs.mean(), ys.mean()
    sxx = float(((xs - xm) ** 2).sum())
    if sxx <= 0:
        raise ValueError("x does not vary")
    b = float(((xs - xm) * (ys - ym)).sum() / sxx)
    a = float(ym - b * xm)
    resid = ys - (a + b * xs)
    s2 = float((resid**2).sum() / (n - 2))
    se_b = math.sqrt(s2 / sxx)
    se_a = math.sqrt(s2 * (1 / n + xm * xm / sxx))
    return a, b, se_a, se_b, n


def shrink_weight(n: int, k: float) -> float:
    """The weight of a group's own mean against its pool's: ``n / (n + k)``."""
    return n / (n + k) if n + k > 0 else 0.0


def uniform(seed: int, *parts: object) -> float:
    """A deterministic uniform in [0, 1) from ``seed`` and the identifying ``parts``."""
    text = "\x1f".join([str(seed), *(str(p) for p in parts)])
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
