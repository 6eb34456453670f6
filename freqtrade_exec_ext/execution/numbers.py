"""Numbers as the host hands them over: strings, None, NaN; read once, the same way."""

from __future__ import annotations

import math


def finite(x: object) -> float | None:
    """``x`` as a finite float, or None (None, text that is no number, NaN, infinity)."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
