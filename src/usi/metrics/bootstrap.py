"""The task bootstrap (spec §6, usi-v2): resample the summaries, not a second implementation.

Every component is a function of per-unit sums and unit weights
(:mod:`usi.metrics.components`). A bootstrap replicate is a vector of unit multiplicities,
so B replicates are one (B, U) weight block handed to the very functions that make the
point estimate (whose weights are all ones): no re-grouping, no re-fingerprinting, and no
way for the interval to describe a different computation than the headline.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from usi.metrics.components import component_arrays, usi_of
from usi.metrics.summary import FloatArray, PairedSums

N_BOOTSTRAP = 1000
"""Replicates of the task bootstrap; the 95% percentile interval is stable to ~0.1 USI."""

BOOTSTRAP_CONFIDENCE = 0.95

MAX_WEIGHT_CELLS = 4_000_000
"""Replicates are processed in blocks so the (block, units) weight matrix stays ~32 MB even
when thousands of unaligned episodes each count as their own resampling unit."""


def weight_blocks(n_units: int, n_replicates: int, seed: int) -> Iterator[FloatArray]:
    """Multinomial unit multiplicities, seeded, in blocks of rows summing to ``n_units``."""
    rng = np.random.default_rng(seed)
    block = max(1, MAX_WEIGHT_CELLS // max(n_units, 1))
    done = 0
    uniform = np.full(n_units, 1.0 / n_units)
    while done < n_replicates:
        size = min(block, n_replicates - done)
        yield rng.multinomial(n_units, uniform, size=size).astype(np.float64)
        done += size


def bootstrap_usi(
    paired: PairedSums,
    components: list[str],
    n_replicates: int = N_BOOTSTRAP,
    seed: int = 0,
) -> FloatArray:
    """USI of each replicate (units resampled with replacement, both sides together).

    Only ``components`` (those defined on the full data) enter the mean; a component that
    a replicate cannot compute (no paired task drawn) is left out of that replicate only.
    """
    if paired.n_units == 0 or n_replicates < 1:
        return np.zeros(0)
    values = [
        usi_of(component_arrays(paired, weights).values(), components)
        for weights in weight_blocks(paired.n_units, n_replicates, seed)
    ]
    return np.concatenate(values)


def percentile_interval(
    values: FloatArray, confidence: float = BOOTSTRAP_CONFIDENCE
) -> tuple[float, float]:
    """The percentile interval of the defined replicate values."""
    defined = values[~np.isnan(values)]
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(defined, [tail, 100.0 - tail])
    return float(low), float(high)
