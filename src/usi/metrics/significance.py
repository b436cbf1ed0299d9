"""Which features differ for real: per-feature tests of the human–simulator gap.

Dice on profiles says how far the means are; it does not say whether the gap could be
sampling noise or how much the two distributions overlap. So each feature's per-episode
values are compared with a Mann–Whitney U test (no normality assumption: most features
are zero-inflated rates), Holm-corrected across the 19 features, with Cliff's delta as
the effect size. A feature is flagged only when the gap is both significant and large.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from usi.fingerprint.features import FEATURES

SIGNIFICANCE_LEVEL = 0.05
"""Holm-adjusted p below this counts as significant."""

LARGE_EFFECT = 0.33
"""|Cliff's delta| at or above this is a large gap (Romano et al.'s "medium" starts at
0.33; below it the two distributions overlap too much to call the behaviour different)."""


def holm(p_values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Holm–Bonferroni step-down adjusted p-values (NaN entries stay NaN, not counted).

    Written out (a few lines) rather than pulling in statsmodels for one function.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    defined = np.flatnonzero(~np.isnan(p))
    m = defined.size
    order = defined[np.argsort(p[defined], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def cliffs_delta(u_statistic: float, n_simulator: int, n_human: int) -> float:
    """Cliff's delta P(sim > hum) − P(sim < hum) from the simulator's U (= rank-biserial r)."""
    return 2.0 * u_statistic / (n_simulator * n_human) - 1.0


def feature_significance(simulator: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """Per feature: U, p, Holm-adjusted p, Cliff's delta (> 0: simulator higher), large_gap.

    A feature with no defined value on one side gets NaN statistics and is not flagged;
    two samples made of one and the same constant are identical: p = 1, delta = 0.
    """
    # scipy.stats loads on use: importing it is ~0.7 s of every ``usi score``, and only the
    # usi-v2 divergence table tests features this way.
    from scipy.stats import mannwhitneyu

    rows = []
    for feature in FEATURES:
        sim = simulator[feature].to_numpy(dtype=np.float64)
        hum = human[feature].to_numpy(dtype=np.float64)
        sim, hum = sim[~np.isnan(sim)], hum[~np.isnan(hum)]
        if sim.size == 0 or hum.size == 0:
            rows.append((np.nan, np.nan, np.nan))
            continue
        if np.ptp(np.concatenate([sim, hum])) == 0.0:
            rows.append((sim.size * hum.size / 2.0, 1.0, 0.0))
            continue
        test = mannwhitneyu(sim, hum, alternative="two-sided", method="auto")
        u = float(test.statistic)
        rows.append((u, float(test.pvalue), cliffs_delta(u, sim.size, hum.size)))
    frame = pd.DataFrame(rows, index=list(FEATURES), columns=["u", "p", "effect"])
    frame["p_adj"] = holm(frame["p"].to_numpy())
    frame["large_gap"] = (frame["p_adj"] < SIGNIFICANCE_LEVEL) & (
        frame["effect"].abs() >= LARGE_EFFECT
    )
    return frame[["u", "p", "p_adj", "effect", "large_gap"]]
