"""The User-Sim Index: arithmetic by hand, missing components, uncertainty, ceiling (spec §6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_metrics_support import make_table, random_table
from usi.metrics import (
    COMPONENT_NAMES,
    compute_components,
    estimate_usi,
    human_ceiling,
    split_half,
    usi_value,
)
from usi.metrics.bootstrap import aggregate, bootstrap_usi, component_replicates

D2_SIM = {"front_loading_ratio": 0.6, "identifiers_per_turn": 0.5, "opening_length": 10.0}
D2_HUM = {"front_loading_ratio": 0.6, "identifiers_per_turn": 1.5, "opening_length": 30.0}


def _pair(reward: bool = True, survey: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    sim = [
        {"task_id": "1", **D2_SIM, "reward": 1.0, "survey": {"reuse": 0.5}},
        {"task_id": "1", **D2_SIM, "reward": 0.0, "survey": {"reuse": 0.5}},
    ]
    hum = [{"task_id": "1", **D2_HUM, "reward": 1.0, "survey": {"reuse": 0.25}}]
    for rows in (sim, hum):
        for row in rows:
            if not reward:
                row.pop("reward")
            if not survey:
                row.pop("survey")
    return make_table(sim), make_table(hum, source="human")


def test_usi_by_hand() -> None:
    # D1 = D3 = D4 = 1 (all their features 0 on both sides).
    # D2 = (dice(.6,.6) + dice(.5,1.5) + dice(10,30)) / 3 = (1 + .5 + .5) / 3 = 2/3
    # outcome: task 1 p_sim = 1/2 (bin 5), p_hum = 1 → ECE = 0.5 → 0.5
    # evaluation: task 1 reuse |0.5 − 0.25| = 0.25 → 0.75
    # USI = 100 · (1 + 2/3 + 1 + 1 + 0.5 + 0.75) / 6 = 81.944…
    sim, hum = _pair()
    scores = compute_components(sim, hum)
    assert scores.values["D2"] == pytest.approx(2 / 3)
    assert scores.values["outcome"] == pytest.approx(0.5)
    assert scores.values["evaluation"] == pytest.approx(0.75)
    assert scores.used == list(COMPONENT_NAMES)
    assert scores.usi == pytest.approx(100 * (1 + 2 / 3 + 1 + 1 + 0.5 + 0.75) / 6)


def test_missing_survey_scores_the_rest_and_says_why() -> None:
    # USI = 100 · (1 + 2/3 + 1 + 1 + 0.5) / 5 = 83.333…
    scores = compute_components(*_pair(survey=False))
    assert scores.values["evaluation"] is None
    assert scores.missing == {"evaluation": "no simulator survey answers"}
    assert scores.used == ["D1", "D2", "D3", "D4", "outcome"]
    assert scores.usi == pytest.approx(100 * (3 + 2 / 3 + 0.5) / 5)


def test_missing_reward_and_survey_leave_the_dimensions() -> None:
    # USI = 100 · (1 + 2/3 + 1 + 1) / 4 = 91.667
    estimate = estimate_usi(*_pair(reward=False, survey=False), n_bootstrap=50)
    assert estimate.value == pytest.approx(100 * (3 + 2 / 3) / 4)
    assert estimate.used == ["D1", "D2", "D3", "D4"]
    assert set(estimate.missing) == {"outcome", "evaluation"}
    assert "reward" in estimate.missing["outcome"]


def test_usi_value_of_nothing_is_none() -> None:
    assert usi_value(dict.fromkeys(COMPONENT_NAMES)) is None
    assert usi_value({"D1": 0.5, "outcome": 1.0}) == pytest.approx(75.0)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 8), st.integers(1, 4))
def test_a_table_scored_against_itself_is_100(seed: int, n_tasks: int, per_task: int) -> None:
    table = random_table(seed, "x", n_tasks=n_tasks, per_task=per_task)
    estimate = estimate_usi(table, table, n_bootstrap=30, seed=seed)
    assert estimate.value == pytest.approx(100.0)
    assert estimate.ci_low == pytest.approx(100.0) and estimate.ci_high == pytest.approx(100.0)


def test_bootstrap_engine_with_unit_weights_equals_the_plain_metrics() -> None:
    sim = random_table(1, "sim", shift=0.2, success=0.3)
    hum = random_table(2, "human")
    # an unaligned episode on each side: its own resampling unit, never paired
    sim = pd.concat([sim, make_table([{"politeness_rate": 0.9}], source="sim")], ignore_index=True)
    plain = compute_components(sim, hum)
    replicate = component_replicates(aggregate(sim, hum), np.ones((1, 13)))
    for c in COMPONENT_NAMES:
        assert replicate[c][0] == pytest.approx(plain.values[c]), c


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    sim = random_table(5, "sim", n_tasks=30, shift=0.15, success=0.4)
    hum = random_table(6, "human", n_tasks=30)
    a = estimate_usi(sim, hum, n_bootstrap=400, seed=1)
    b = estimate_usi(sim, hum, n_bootstrap=400, seed=1)
    c = bootstrap_usi(sim, hum, a.used, 400, seed=2)
    assert a.uncertainty.method == "bootstrap" and a.uncertainty.n_bootstrap == 400
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert a.ci_low is not None and a.ci_high is not None and a.value is not None
    assert a.ci_low < a.value < a.ci_high
    assert a.uncertainty.std is not None and a.uncertainty.std > 0
    assert not np.allclose(np.sort(c), np.sort(bootstrap_usi(sim, hum, a.used, 400, seed=1)))


def _batched_humans(seeds: tuple[int, ...] = (11, 12, 13)) -> pd.DataFrame:
    return pd.concat(
        [random_table(s, "human", batch=b) for b, s in enumerate(seeds, start=1)],
        ignore_index=True,
    )


def test_with_batches_the_interval_is_mean_plus_minus_std_over_batches() -> None:
    humans = _batched_humans()
    sim = random_table(7, "sim", shift=0.3)
    per_batch = [
        compute_components(sim, humans[humans["batch"] == b].reset_index(drop=True)).usi
        for b in (1, 2, 3)
    ]
    mean, std = float(np.mean(per_batch)), float(np.std(per_batch, ddof=1))
    estimate = estimate_usi(sim, humans)
    assert estimate.uncertainty.method == "batches" and estimate.uncertainty.n_batches == 3
    assert estimate.value == pytest.approx(mean)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((mean - std, mean + std))
    assert list(estimate.uncertainty.per_batch.values()) == pytest.approx(per_batch)


def test_ceiling_with_batches_is_leave_one_batch_out() -> None:
    humans = _batched_humans()
    folds = []
    for b in (1, 2, 3):
        held = humans["batch"] == b
        fold = compute_components(
            humans[held].reset_index(drop=True), humans[~held].reset_index(drop=True)
        )
        folds.append(fold.usi)
    ceiling = human_ceiling(humans)
    assert ceiling.method == "leave-one-batch-out" and ceiling.n_batches == 3
    assert ceiling.per_fold == pytest.approx(folds)
    assert ceiling.value == pytest.approx(np.mean(folds))
    assert ceiling.std == pytest.approx(np.std(folds, ddof=1))
    assert ceiling.n_episodes == len(humans)


def test_ceiling_of_identical_batches_is_100_and_above_a_shifted_simulator() -> None:
    one = random_table(21, "human")
    humans = pd.concat([one.assign(batch=b) for b in (1, 2)], ignore_index=True)
    humans["batch"] = humans["batch"].astype("Int64")
    assert human_ceiling(humans).value == pytest.approx(100.0)
    sim = random_table(22, "sim", shift=0.5, success=0.1)
    estimate = estimate_usi(sim, humans)
    assert estimate.value is not None and estimate.value < 90.0


def test_split_half_alternates_sessions_within_each_task() -> None:
    humans = random_table(31, "human", n_tasks=5, per_task=3)
    first, second = split_half(humans)
    assert len(first) + len(second) == len(humans)
    assert set(first["task_id"]) == set(second["task_id"]) == {str(t) for t in range(5)}
    assert (first.groupby("task_id").size() == 2).all()  # 3 sessions: 2 + 1
    again, _ = split_half(humans.sample(frac=1.0, random_state=0))
    assert sorted(again["episode_id"]) == sorted(first["episode_id"])  # order-independent


def test_ceiling_with_one_batch_scores_half_against_half() -> None:
    humans = random_table(41, "human", n_tasks=10, per_task=4, batch=1)
    first, second = split_half(humans)
    ceiling = human_ceiling(humans)
    assert ceiling.method == "split-half" and ceiling.n_batches == 1
    assert ceiling.value == pytest.approx(compute_components(second, first).usi)
    assert ceiling.std is None and ceiling.reason is None


def test_ceiling_of_a_single_session_says_why_not() -> None:
    ceiling = human_ceiling(make_table([{"task_id": "1"}], source="human"))
    assert ceiling.value is None and ceiling.reason is not None


def test_too_few_bootstrap_replicates_give_no_interval_rather_than_nan() -> None:
    sim, hum = random_table(51, "sim"), random_table(52, "human")
    estimate = estimate_usi(sim, hum, n_bootstrap=1)
    assert estimate.value is not None and estimate.ci_low is None
    assert estimate.uncertainty.method == "none" and estimate.uncertainty.std is None
