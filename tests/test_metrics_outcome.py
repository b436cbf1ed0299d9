"""Outcome alignment = 1 − ECE over paired tasks, worked by hand (spec §4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_metrics_support import make_table
from usi.metrics import calibration_bins, expected_calibration_error, outcome_alignment

rates = st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=40)


def test_ece_by_hand() -> None:
    # tasks:    t1    t2    t3   t4
    # p_sim:   0.0  0.05   0.5  1.0   → bins 0, 0, 5, 9
    # p_hum:   0.5  0.0    0.5  0.5
    # bin 0: n=2, |mean(0, .05) − mean(.5, 0)| = |0.025 − 0.25| = 0.225 → 2/4 · 0.225 = 0.1125
    # bin 5: n=1, |0.5 − 0.5| = 0
    # bin 9: n=1, |1.0 − 0.5| = 0.5                                    → 1/4 · 0.5   = 0.125
    # ECE = 0.2375
    ece = expected_calibration_error([0.0, 0.05, 0.5, 1.0], [0.5, 0.0, 0.5, 0.5])
    assert ece == pytest.approx(0.2375)


def test_bin_edges_go_to_the_upper_bin_and_one_to_the_last() -> None:
    # [i/10, (i+1)/10): an exact edge starts its bin; 1.0 closes the last bin.
    p = [0.0, 0.1, 0.2, 0.3, 0.7, 0.9999, 1.0, 0.6999999999999999, 3 / 10]
    assert calibration_bins(p).tolist() == [0, 1, 2, 3, 7, 9, 9, 7, 3]
    assert calibration_bins([0.0999]).tolist() == [0]


@settings(deadline=None)
@given(rates, st.data())
def test_ece_is_in_unit_interval(p_sim: list[float], data: st.DataObject) -> None:
    p_hum = data.draw(st.lists(st.floats(0, 1), min_size=len(p_sim), max_size=len(p_sim)))
    assert 0.0 <= expected_calibration_error(p_sim, p_hum) <= 1.0


@settings(deadline=None)
@given(rates)
def test_identical_rates_are_perfectly_calibrated(p: list[float]) -> None:
    assert expected_calibration_error(p, p) == 0.0


def test_outcome_alignment_on_tables_by_hand() -> None:
    # task 1: sim rewards 1,1,0 → p_sim 2/3 (bin 6); humans 1,0 → p_hum 0.5
    # task 2: sim 0 → 0.0 (bin 0); humans 1 → 1.0
    # task 3: simulator only → not paired.  Reward 0.5 is not a success.
    # ECE = 1/2·|2/3 − 1/2| + 1/2·|0 − 1| = 1/12 + 1/2 = 7/12
    sim = make_table(
        [
            {"task_id": "1", "reward": 1.0},
            {"task_id": "1", "reward": 1.0},
            {"task_id": "1", "reward": 0.0},
            {"task_id": "2", "reward": 0.5},
            {"task_id": "3", "reward": 1.0},
        ]
    )
    hum = make_table(
        [
            {"task_id": "1", "reward": 1.0},
            {"task_id": "1", "reward": 0.0},
            {"task_id": "2", "reward": 1.0},
        ],
        source="human",
    )
    result = outcome_alignment(sim, hum)
    assert result.n_tasks == 2
    assert result.ece == pytest.approx(7 / 12)
    assert result.value == pytest.approx(5 / 12)


def test_same_task_id_in_two_domains_is_two_tasks() -> None:
    sim = make_table([{"task_id": "5", "domain": "airline", "reward": 1.0}])
    hum = make_table([{"task_id": "5", "domain": "retail", "reward": 1.0}], source="human")
    result = outcome_alignment(sim, hum)
    assert result.value is None
    assert result.reason == "no task has rewarded episodes on both sides"


def test_missing_rewards_give_a_reason() -> None:
    sim = make_table([{"task_id": "1"}])
    hum = make_table([{"task_id": "1", "reward": 1.0}], source="human")
    result = outcome_alignment(sim, hum)
    assert result.value is None and result.ece is None
    assert result.reason == "no simulator episode has a reward and a task id"


def test_table_against_itself_has_outcome_one() -> None:
    rng = np.random.default_rng(3)
    table = make_table(
        [{"task_id": str(t % 7), "reward": float(rng.random() < 0.5)} for t in range(40)]
    )
    assert outcome_alignment(table, table).value == pytest.approx(1.0)
