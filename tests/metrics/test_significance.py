"""Per-feature Mann–Whitney U, Holm correction and Cliff's delta."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from metrics.test_support import random_table
from usi.fingerprint.features import FEATURES
from usi.metrics import LARGE_EFFECT, cliffs_delta, feature_significance, holm


def test_holm_by_hand() -> None:
    # sorted p: 0.01 (×4 = 0.04), 0.02 (×3 = 0.06), 0.03 (×2 = 0.06, running max), 0.5 (×1)
    adjusted = holm([0.03, 0.01, 0.5, 0.02])
    assert adjusted.tolist() == pytest.approx([0.06, 0.04, 0.5, 0.06])
    # capped at 1, NaN neither counted nor adjusted: m = 2 here
    out = holm([0.6, np.nan, 0.01])
    assert out[2] == pytest.approx(0.02) and out[0] == pytest.approx(0.6)
    assert np.isnan(out[1])


def test_cliffs_delta_by_hand() -> None:
    # sim = [3, 4], hum = [1, 2, 3]: pairs sim>hum: 3>1,3>2,4>1,4>2,4>3 = 5; ties 3=3 → U = 5.5
    # delta = 2·5.5/6 − 1 = 0.8333 = (5 − 0)/6 + ... = P(>) − P(<) = 5/6 − 0/6 (tie counts 0)
    u = float(mannwhitneyu([3, 4], [1, 2, 3]).statistic)
    assert u == 5.5
    assert cliffs_delta(u, 2, 3) == pytest.approx(5 / 6)


def test_a_planted_gap_is_flagged_and_an_identical_feature_is_not() -> None:
    hum = random_table(1, "human", n_tasks=20, per_task=5)
    sim = random_table(1, "sim", n_tasks=20, per_task=5)  # same seed: identical values
    sim["politeness_rate"] = hum["politeness_rate"] + 0.4  # GPT-4o-style: far more polite
    sim["short_utterance_rate"] = hum["short_utterance_rate"] * 0.0 + 0.001
    result = feature_significance(sim, hum)
    assert list(result.index) == list(FEATURES)
    polite = result.loc["politeness_rate"]
    assert polite["large_gap"] and polite["effect"] > LARGE_EFFECT and polite["p_adj"] < 1e-6
    assert result.loc["short_utterance_rate", "effect"] < -LARGE_EFFECT
    assert result.loc["short_utterance_rate", "large_gap"]
    same = result.loc["formality_rate"]
    assert not same["large_gap"] and same["effect"] == pytest.approx(0.0)
    assert same["p_adj"] == pytest.approx(1.0)
    assert int(result["large_gap"].sum()) == 2


def test_constant_identical_feature_is_not_a_gap() -> None:
    hum = random_table(2, "human")
    sim = random_table(3, "sim")
    hum["accusatory_rate"] = 0.0
    sim["accusatory_rate"] = 0.0
    row = feature_significance(sim, hum).loc["accusatory_rate"]
    assert row["p"] == 1.0 and row["effect"] == 0.0 and not row["large_gap"]
