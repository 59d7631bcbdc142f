"""Rounding and quantiles for reported numbers: one definition each, shared by every report."""

from __future__ import annotations

import math
from collections.abc import Sequence

DIGITS = 4  # reported scores and rates: enough to compare runs, few enough to read


def rounded(value: float | None, digits: int = DIGITS) -> float | None:
    """``value`` rounded for a report (None stays None)."""
    return None if value is None else round(value, digits)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of already sorted values."""
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)
