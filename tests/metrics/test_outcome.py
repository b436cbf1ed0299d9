"""Outcome alignment = 1 − |ŝ − ĥ| over paired tasks, and the v1 ECE, by hand (spec §4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.test_support import make_table
from usi.metrics import calibration_bins, expected_calibration_error, score_pair

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
    # task   simulator rewards   p_sim   human rewards   p_hum
    #  1     1, 0                0.5     1               1.0
    #  2     1                   1.0     0, 0            0.0
    #  3     1                   1.0     —               (unpaired: no human reward)
    # ŝ = (0.5 + 1) / 2 = 0.75, ĥ = (1 + 0) / 2 = 0.5 → alignment 0.75, Δ = +0.25
    # v1 per-task ECE: bin 5 gap −0.5, bin 9 gap +1 → (0.5 + 1) / 2 = 0.75
    sim = make_table(
        [
            {"task_id": "1", "reward": 1.0},
            {"task_id": "1", "reward": 0.0},
            {"task_id": "2", "reward": 1.0},
            {"task_id": "3", "reward": 1.0},
        ]
    )
    hum = make_table(
        [
            {"task_id": "1", "reward": 1.0},
            {"task_id": "2", "reward": 0.0},
            {"task_id": "2", "reward": 0.0},
            {"task_id": "3"},
        ],
        source="human",
    )
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    detail = result.outcome_detail
    assert detail.n_tasks == 2
    assert (detail.simulator_success, detail.human_success) == pytest.approx((0.75, 0.5))
    assert detail.delta == pytest.approx(0.25) and detail.ece == pytest.approx(0.25)
    assert result.components.outcome == pytest.approx(0.75)
    assert detail.per_task_ece == pytest.approx(0.75)
    assert detail.by_domain["retail"].alignment == pytest.approx(0.75)
    # symmetric: the humans scored against the simulator give the same alignment
    mirror = score_pair(hum, sim, "h", n_bootstrap=0)
    assert mirror.components.outcome == pytest.approx(0.75)
    assert mirror.outcome_detail.delta == pytest.approx(-0.25)


def test_outcome_is_reported_per_domain_and_a_task_id_in_two_domains_is_two_tasks() -> None:
    sim = make_table(
        [{"task_id": "5", "domain": "airline", "reward": 1.0}, {"task_id": "5", "reward": 1.0}]
    )
    hum = make_table(
        [{"task_id": "5", "domain": "airline", "reward": 0.0}, {"task_id": "5", "reward": 1.0}],
        source="human",
    )
    detail = score_pair(sim, hum, "sim", n_bootstrap=0).outcome_detail
    assert detail.n_tasks == 2
    assert detail.by_domain["airline"].delta == pytest.approx(1.0)
    assert detail.by_domain["retail"].delta == pytest.approx(0.0)
    assert detail.delta == pytest.approx(0.5)


def test_missing_rewards_give_a_reason() -> None:
    sim = make_table([{"task_id": "1"}])
    hum = make_table([{"task_id": "1", "reward": 1.0}], source="human")
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    assert result.components.outcome is None
    assert result.components.missing["outcome"] == "no simulator episode has a reward and a task id"
    other = make_table([{"task_id": "2", "reward": 1.0}])
    unpaired = score_pair(other, hum, "sim", n_bootstrap=0)
    assert unpaired.components.missing["outcome"] == "no task has rewarded episodes on both sides"


def test_a_perfect_clone_of_noisy_humans_is_aligned_in_v2_not_in_v1() -> None:
    # Two people per task who disagree half the time: v1's per-task ECE of a clone drawn
    # like them is ~0.5; v2 compares the aggregates and gives the clone 1.0.
    hum = make_table(
        [{"task_id": str(t), "reward": float(t % 2)} for t in range(40)], source="human"
    )
    clone = make_table([{"task_id": str(t), "reward": float((t // 2) % 2)} for t in range(40)])
    result = score_pair(clone, hum, "clone", n_bootstrap=0)
    assert result.components.outcome == pytest.approx(1.0)
    assert result.outcome_detail.per_task_ece == pytest.approx(0.5)
