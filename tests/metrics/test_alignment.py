"""Dice, pooled turn rates, the support rule and D1–D4, worked by hand (spec §3, usi-v2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.test_support import make_table, random_table
from usi.fingerprint.features import DIMENSIONS, FEATURES
from usi.metrics import MIN_CUE_TURNS, dice, dice_array, score_pair
from usi.metrics.summary import MEAN_FEATURES, RATE_FEATURES

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


def test_rate_and_mean_features_split_as_the_spec_says() -> None:
    assert len(RATE_FEATURES) == 14 and all(f.endswith("_rate") for f in RATE_FEATURES)
    assert set(MEAN_FEATURES) == {
        "words_per_turn",
        "verbosity_cv",
        "front_loading_ratio",
        "identifiers_per_turn",
        "opening_length",
    }


def test_rate_features_are_pooled_over_turns_and_the_others_averaged_over_episodes() -> None:
    # simulator: e1 has 3 turns, 1 polite (rate 1/3); e2 has 1 turn, polite (rate 1)
    #   pooled politeness = (1 + 1) / (3 + 1) = 0.5 (the v1 episode mean was 2/3)
    #   words_per_turn: episode mean (4 + 8) / 2 = 6
    # human: 12 turns in 2 episodes, 6 polite → 0.5; words_per_turn 6 → every Dice 1
    sim = make_table(
        [
            {"n_user_turns": 3, "politeness_rate": 1 / 3, "words_per_turn": 4.0},
            {"n_user_turns": 1, "politeness_rate": 1.0, "words_per_turn": 8.0},
        ]
    )
    hum = make_table(
        [
            {"n_user_turns": 10, "politeness_rate": 0.5, "words_per_turn": 6.0},
            {"n_user_turns": 2, "politeness_rate": 0.5, "words_per_turn": 6.0},
        ],
        source="human",
    )
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    polite = result.features["politeness_rate"]
    assert polite.kind == "rate"
    assert polite.simulator == pytest.approx(0.5) and polite.human == pytest.approx(0.5)
    assert (polite.simulator_cue_turns, polite.human_cue_turns) == (2, 6)
    assert polite.dice == pytest.approx(1.0)
    words = result.features["words_per_turn"]
    assert words.kind == "mean" and words.simulator == pytest.approx(6.0)
    assert words.simulator_cue_turns is None and words.supported


def test_support_rule_leaves_rare_features_out_and_lists_them() -> None:
    # The rule reads the human side only (MIN_CUE_TURNS = 5 human cue turns):
    # accusatory: 0 vs 3 cue turns → unsupported; emotional: 12 vs 0 → unsupported (people
    # never show it: no evidence of how often they would); strategy_pivot 5 vs 5 → supported,
    # Dice 1. D4 = 1.0 (the old both-sides rule kept emotional at Dice 0: D4 0.5).
    sim = make_table(
        [{"n_user_turns": 20, "emotional_expression_rate": 0.6, "strategy_pivot_rate": 0.25}]
    )
    hum = make_table(
        [{"n_user_turns": 20, "accusatory_rate": 0.15, "strategy_pivot_rate": 0.25}],
        source="human",
    )
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    accusatory = result.features["accusatory_rate"]
    assert not accusatory.supported and accusatory.dice == 0.0
    assert [
        (u.feature, u.simulator_cue_turns, u.human_cue_turns)
        for u in result.unsupported
        if u.dimension == "D4"
    ] == [("emotional_expression_rate", 12, 0), ("accusatory_rate", 0, 3)]
    assert pytest.approx(1.0) == result.components.D4
    # every D1 rate feature has 0 cue turns: D1 is the mean of its two mean features (0 vs 0 → 1)
    assert pytest.approx(1.0) == result.components.D1
    # D3 has only rate features, none with a cue: missing, with the reason
    assert result.components.D3 is None
    assert "human side" in result.components.missing["D3"]
    assert "D3" not in result.usi.components_used


def test_support_threshold_is_inclusive_and_reads_the_human_side_only() -> None:
    # humans: exactly MIN_CUE_TURNS = 5 cue turns (10 turns × 0.5) → supported
    sim = make_table([{"n_user_turns": 10, "pushback_rate": 0.4}])
    hum = make_table([{"n_user_turns": 10, "pushback_rate": 0.5}], source="human")
    assert MIN_CUE_TURNS == 5
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    assert result.features["pushback_rate"].supported
    assert pytest.approx(2 * 0.4 / (0.4 + 0.5)) == result.components.D3
    # 4 human cue turns: unsupported however many the simulator has (9 + 4 = 13 together)
    fewer = score_pair(
        sim.assign(pushback_rate=0.9), hum.assign(pushback_rate=0.4), "s", n_bootstrap=0
    )
    assert not fewer.features["pushback_rate"].supported


def test_a_simulator_that_stops_a_cue_people_show_scores_lower_not_higher() -> None:
    # People: strategy pivots in 8 of 20 turns (0.4), emotion in 6 of 20 (0.3).
    # A: pivots in 2 of 20 turns → Dice 2·0.1/0.5 = 0.4; emotion as people → Dice 1; D4 = 0.7.
    # B: A without any pivot → Dice 0, and the feature stays (8 human cue turns ≥ 5): D4 = 0.5.
    # The old rule (10 cue turns on both sides together) dropped pivot for B (0 + 8) and gave
    # B a D4 of 1.0, above A.
    hum = make_table(
        [{"n_user_turns": 20, "strategy_pivot_rate": 0.4, "emotional_expression_rate": 0.3}],
        source="human",
    )
    a = make_table(
        [{"n_user_turns": 20, "strategy_pivot_rate": 0.1, "emotional_expression_rate": 0.3}]
    )
    b = a.assign(strategy_pivot_rate=0.0)
    with_cue = score_pair(a, hum, "a", n_bootstrap=0)
    without = score_pair(b, hum, "b", n_bootstrap=0)
    assert pytest.approx(0.7) == with_cue.components.D4
    assert pytest.approx(0.5) == without.components.D4
    assert without.features["strategy_pivot_rate"].supported
    assert without.features["strategy_pivot_rate"].dice == 0.0


small_tables = st.tuples(
    st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 3), st.integers(1, 6)
)


@settings(deadline=None, max_examples=60)
@given(
    small_tables,
    st.lists(st.sampled_from(RATE_FEATURES), min_size=1, max_size=4, unique=True),
    st.floats(0, 1),
    st.floats(0, 0.6),
)
def test_degrading_a_simulator_never_raises_a_component(
    sizes: tuple[int, int, int, int], features: list[str], keep: float, shift: float
) -> None:
    # Degrade: each chosen cue the simulator shows no more often than people (pooled rate)
    # is kept in only a share `keep` of it (0: it stops). Its Dice can only fall, and since
    # the feature set is the people's, no dimension, component or USI can rise.
    seed, n_tasks, per_task, turns = sizes
    sim = random_table(seed, "sim", n_tasks=n_tasks, per_task=per_task, shift=shift)
    hum = random_table(seed + 1, "human", n_tasks=n_tasks, per_task=per_task)
    sim["n_user_turns"] = np.arange(len(sim)) % turns + 1
    hum["n_user_turns"] = np.arange(len(hum)) % (turns + 1) + 1
    worse = sim.copy()
    for f in features:
        pooled_sim = (sim[f] * sim["n_user_turns"]).sum() / sim["n_user_turns"].sum()
        pooled_hum = (hum[f] * hum["n_user_turns"]).sum() / hum["n_user_turns"].sum()
        if pooled_sim <= pooled_hum:
            worse[f] = sim[f] * keep
    before = score_pair(sim, hum, "sim", n_bootstrap=0)
    after = score_pair(worse, hum, "worse", n_bootstrap=0)
    for c in ("D1", "D2", "D3", "D4"):
        b, a = getattr(before.components, c), getattr(after.components, c)
        assert (a is None) == (b is None)
        if a is not None:
            assert a <= b + 1e-12
    assert after.usi.value is not None and before.usi.value is not None
    assert after.usi.value <= before.usi.value + 1e-9


@settings(deadline=None, max_examples=40)
@given(small_tables, st.floats(0, 1), st.integers(0, 10_000))
def test_the_feature_set_does_not_depend_on_the_simulator(
    sizes: tuple[int, int, int, int], shift: float, other_seed: int
) -> None:
    seed, n_tasks, per_task, turns = sizes
    hum = random_table(seed, "human", n_tasks=n_tasks, per_task=per_task)
    hum["n_user_turns"] = np.arange(len(hum)) % turns + 1
    one = random_table(seed + 1, "sim", n_tasks=n_tasks, per_task=per_task, shift=shift)
    other = random_table(other_seed, "sim", n_tasks=n_tasks, per_task=per_task)
    silent = one.assign(**{f: 0.0 for f in RATE_FEATURES})
    flags = [
        {f: c.supported for f, c in score_pair(s, hum, "s", n_bootstrap=0).features.items()}
        for s in (one, other, silent)
    ]
    assert flags[0] == flags[1] == flags[2]


def test_pooled_rates_by_a_second_path() -> None:
    sim, hum = random_table(5, "sim"), random_table(6, "human", shift=0.2)
    sim["n_user_turns"] = np.arange(len(sim)) % 7 + 1
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    for f in FEATURES:
        if f in RATE_FEATURES:
            expected = (sim[f] * sim["n_user_turns"]).sum() / sim["n_user_turns"].sum()
        else:
            expected = sim[f].mean()
        assert result.features[f].simulator == pytest.approx(expected, rel=1e-12)


@settings(deadline=None, max_examples=25)
@given(st.integers(0, 10_000), st.floats(0, 1))
def test_each_dimension_is_the_mean_dice_of_its_supported_features(seed: int, shift: float) -> None:
    result = score_pair(
        random_table(seed, "sim", shift=shift), random_table(seed + 1, "human"), "s", n_bootstrap=0
    )
    for dimension, features in DIMENSIONS.items():
        kept = [result.features[f].dice for f in features if result.features[f].supported]
        value = getattr(result.components, dimension)
        if kept:
            assert value == pytest.approx(sum(kept) / len(kept), abs=1e-12)  # type: ignore[arg-type]
            assert 0.0 <= value <= 1.0
        else:
            assert value is None
