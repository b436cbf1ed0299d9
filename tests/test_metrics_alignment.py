"""Dice, profiles and D1–D4, worked by hand (spec §3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_metrics_support import make_table
from usi.fingerprint.features import DIMENSIONS, FEATURES
from usi.metrics import behavioral_alignment, dice, dice_array, feature_dice, profile

non_negative = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


def test_dice_by_hand() -> None:
    # dice(m, h) = 2·min / (m + h)
    assert dice(0.153, 0.49) == pytest.approx(2 * 0.153 / (0.153 + 0.49))  # politeness, GPT-4o
    assert dice(1.0, 3.0) == pytest.approx(0.5)  # 2·1 / 4
    assert dice(2.0, 2.0) == 1.0
    assert dice(0.0, 5.0) == 0.0  # 2·0 / 5
    assert dice(0.0, 0.0) == 1.0  # both absent: defined as full agreement


def test_dice_array_matches_scalar_and_keeps_nan() -> None:
    out = dice_array([1.0, 0.0, np.nan], [3.0, 0.0, 1.0])
    assert out[0] == pytest.approx(0.5)
    assert out[1] == 1.0
    assert math.isnan(out[2])


@settings(deadline=None)
@given(non_negative, non_negative)
def test_dice_is_bounded_and_symmetric(m: float, h: float) -> None:
    value = dice(m, h)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(dice(h, m))


@settings(deadline=None)
@given(non_negative)
def test_dice_of_identical_values_is_one(x: float) -> None:
    assert dice(x, x) == pytest.approx(1.0)


def test_profile_aggregates_first_then_compares() -> None:
    # Simulator short_utterance_rate per episode 0.0 and 0.2 → profile 0.1;
    # humans 0.3 and 0.3 → 0.3. Dice of the means: 2·0.1/(0.1+0.3) = 0.5
    # (not the mean of per-episode dice, which would pair episodes arbitrarily).
    sim = make_table([{"short_utterance_rate": 0.0}, {"short_utterance_rate": 0.2}])
    hum = make_table([{"short_utterance_rate": 0.3}] * 2, source="human")
    assert profile(sim)["short_utterance_rate"] == pytest.approx(0.1)
    assert feature_dice(profile(sim), profile(hum))["short_utterance_rate"] == pytest.approx(0.5)


def test_dimension_alignment_by_hand() -> None:
    # D2 has 3 features. Simulator vs human profiles:
    #   front_loading_ratio   0.6 vs 0.6 → 1.0
    #   identifiers_per_turn  0.5 vs 1.5 → 2·0.5/2.0 = 0.5
    #   opening_length        10  vs 30  → 2·10/40  = 0.5
    # D2 = (1.0 + 0.5 + 0.5) / 3 = 0.6667. Every other feature is 0 on both sides → 1.0.
    sim = make_table(
        [{"front_loading_ratio": 0.6, "identifiers_per_turn": 0.5, "opening_length": 10.0}]
    )
    hum = make_table(
        [{"front_loading_ratio": 0.6, "identifiers_per_turn": 1.5, "opening_length": 30.0}],
        source="human",
    )
    dims, detail = behavioral_alignment(sim, hum)
    assert dims["D2"] == pytest.approx(2.0 / 3.0)
    assert dims["D1"] == dims["D3"] == dims["D4"] == 1.0
    assert detail.loc["opening_length"].tolist() == pytest.approx([30.0, 10.0, 0.5])


def test_nan_feature_is_skipped_not_zeroed() -> None:
    # A feature undefined for every simulator episode drops out of its dimension's mean.
    sim = make_table([{"verbosity_cv": np.nan, "words_per_turn": 4.0}])
    hum = make_table([{"verbosity_cv": 0.5, "words_per_turn": 8.0}], source="human")
    dims, _ = behavioral_alignment(sim, hum)
    # D1: 7 defined features; words_per_turn 2·4/12 = 2/3, the 6 others 0 vs 0 = 1.0
    assert dims["D1"] == pytest.approx((2 / 3 + 6) / 7)


@settings(deadline=None)
@given(st.lists(st.lists(non_negative, min_size=19, max_size=19), min_size=1, max_size=6))
def test_a_table_against_itself_aligns_fully(rows: list[list[float]]) -> None:
    table = make_table([dict(zip(FEATURES, r, strict=True)) for r in rows])
    dims, _ = behavioral_alignment(table, table)
    assert set(dims) == set(DIMENSIONS)
    assert all(v == pytest.approx(1.0) for v in dims.values())
