"""Fidelity beside USI: dispersion ratio, coverage, discriminator AUC."""

from __future__ import annotations

import math

import pytest

from metrics.test_support import make_table, random_table
from usi.metrics import (
    coverage,
    coverage_score,
    discriminator_auc,
    dispersion_ratio,
    human_coverage_reference,
    measure_fidelity,
)
from usi.metrics.index import split_half


def test_dispersion_ratio_by_hand() -> None:
    # words_per_turn: sim [1, 3] → sample std √2; humans [1, 2, 3] → 1; ratio √2.
    # politeness_rate: 0 everywhere on both sides → 0/0 := 1.0
    # pushback_rate: sim varies, humans constant → undefined (None)
    sim = make_table(
        [
            {"words_per_turn": 1.0, "pushback_rate": 0.0},
            {"words_per_turn": 3.0, "pushback_rate": 1.0},
        ]
    )
    hum = make_table([{"words_per_turn": float(w)} for w in (1, 2, 3)], source="human")
    ratio = dispersion_ratio(sim, hum)
    assert ratio["words_per_turn"] == pytest.approx(math.sqrt(2))
    assert ratio["politeness_rate"] == 1.0
    assert ratio["pushback_rate"] is None


def test_coverage_score_mapping() -> None:
    # exp(−d / d_h): d = 0.5, d_h = 2 → e^−0.25 = 0.7788; d = d_h → e^−1; far → ~0
    assert coverage_score(0.5, 2.0) == pytest.approx(0.7788, abs=1e-4)
    assert coverage_score(0.0, 2.0) == 1.0
    assert coverage_score(2.0, 2.0) == pytest.approx(0.3679, abs=1e-4)
    assert coverage_score(3.0, 2.0) > coverage_score(6.0, 2.0) > 0.0
    assert coverage_score(0.0, 0.0) == 1.0 and coverage_score(0.1, 0.0) == 0.0


def test_identical_clouds_cover_fully_and_cannot_be_told_apart() -> None:
    hum = random_table(1, "human", n_tasks=30, per_task=4)
    sim = hum.assign(source="sim")
    result = measure_fidelity(sim, hum, human_coverage_reference(split_half(hum)))
    assert result.coverage.score == pytest.approx(1.0)
    assert result.coverage.distance == pytest.approx(0.0, abs=1e-6)
    assert result.discriminator_auc is not None and abs(result.discriminator_auc - 0.5) < 0.1
    assert all(r == pytest.approx(1.0) for r in result.dispersion.values() if r is not None)
    ref = result.coverage.human_reference
    assert ref is not None and 0.0 < ref < 1.0  # independent halves: close, not identical


def test_separated_clouds_have_low_coverage_and_are_told_apart() -> None:
    hum = random_table(2, "human", n_tasks=30, per_task=4)
    sim = random_table(3, "sim", n_tasks=30, per_task=4, shift=3.0)
    cov = coverage(sim, hum)
    assert cov.score is not None and cov.score < 0.1
    assert cov.distance is not None and cov.human_pairwise_distance is not None
    assert cov.distance > cov.human_pairwise_distance
    auc = discriminator_auc(sim, hum)
    assert auc is not None and auc > 0.99


def test_same_distribution_sits_between_identical_and_separated() -> None:
    hum = random_table(4, "human", n_tasks=40, per_task=5)
    sim = random_table(5, "sim", n_tasks=40, per_task=5)
    far = random_table(5, "sim", n_tasks=40, per_task=5, shift=0.6)
    near_cov, far_cov = coverage(sim, hum).score, coverage(far, hum).score
    assert near_cov is not None and far_cov is not None and near_cov > far_cov
    auc = discriminator_auc(sim, hum)
    assert auc is not None and auc < 0.7


def test_fidelity_is_deterministic_and_degrades_gracefully() -> None:
    hum = random_table(6, "human")
    sim = random_table(7, "sim")
    assert measure_fidelity(sim, hum, seed=3) == measure_fidelity(sim, hum, seed=3)
    tiny = make_table([{"words_per_turn": 2.0}])
    assert discriminator_auc(tiny, hum) is None
    assert coverage(sim, tiny).score is None


def test_a_simulator_that_always_behaves_the_same_is_still_scored() -> None:
    hum = random_table(8, "human")
    clones = make_table([{"words_per_turn": 5.0}] * 30)  # one fingerprint, 30 times
    auc = discriminator_auc(clones, hum)
    assert auc is not None and auc > 0.9
    assert discriminator_auc(clones.iloc[:1], hum) is None
