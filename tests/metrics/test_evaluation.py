"""Evaluative alignment (task-paired aggregate, spec §5 usi-v2) and the judge, by hand."""

from __future__ import annotations

import pytest

from metrics.test_support import make_table
from usi.metrics import judge_agreement, score_pair


def test_evaluative_alignment_by_hand() -> None:
    # task 1: sim reuse 0.5, 1.0 → 0.75; human 0.25.   sim overall_score 1.0; human 0.5
    # task 2: sim reuse 0.0;          human 0.5.        (overall_score unanswered)
    # reuse: S̄_sim = (0.75 + 0) / 2 = 0.375, S̄_hum = (0.25 + 0.5) / 2 = 0.375 → Δ 0
    # overall_score: S̄_sim 1.0, S̄_hum 0.5 → Δ +0.5, relative +100%
    # evaluation = 1 − (0 + 0.5) / 2 = 0.75
    # v1 per-task MAE over cells (t1 reuse .5, t1 eff .5, t2 reuse .5) = 0.5
    sim = make_table(
        [
            {"task_id": "1", "survey": {"reuse": 0.5, "overall_score": 1.0}},
            {"task_id": "1", "survey": {"reuse": 1.0}},
            {"task_id": "2", "survey": {"reuse": 0.0}},
        ]
    )
    hum = make_table(
        [
            {"task_id": "1", "survey": {"reuse": 0.25, "overall_score": 0.5}},
            {"task_id": "2", "survey": {"reuse": 0.5}},
        ],
        source="human",
    )
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    detail = result.evaluation_detail
    assert detail is not None
    assert result.components.evaluation == pytest.approx(0.75)
    assert detail.mae == pytest.approx(0.25)
    assert detail.n_pairs == 3 and detail.n_tasks == 2
    reuse, overall_score = detail.dimensions["reuse"], detail.dimensions["overall_score"]
    assert (reuse.simulator, reuse.human, reuse.delta) == pytest.approx((0.375, 0.375, 0.0))
    assert reuse.n_tasks == 2 and overall_score.n_tasks == 1
    assert overall_score.relative_overestimation == pytest.approx(1.0)
    assert detail.per_task_mae == pytest.approx(0.5)
    mirror = score_pair(hum, sim, "h", n_bootstrap=0)
    assert mirror.components.evaluation == pytest.approx(0.75)


def test_relative_overestimation_is_none_when_humans_score_zero() -> None:
    sim = make_table([{"task_id": "1", "survey": {"reuse": 0.5}}])
    hum = make_table([{"task_id": "1", "survey": {"reuse": 0.0}}], source="human")
    detail = score_pair(sim, hum, "sim", n_bootstrap=0).evaluation_detail
    assert detail is not None
    assert detail.dimensions["reuse"].relative_overestimation is None


@pytest.mark.parametrize("side", ["simulator", "human"])
def test_no_survey_on_one_side_gives_a_reason(side: str) -> None:
    answered = make_table([{"task_id": "1", "survey": {"reuse": 0.5}}])
    silent = make_table([{"task_id": "1"}])
    sim, hum = (silent, answered) if side == "simulator" else (answered, silent)
    result = score_pair(sim, hum.assign(source="human"), "sim", n_bootstrap=0)
    assert result.components.evaluation is None
    assert result.components.missing["evaluation"] == f"no {side} survey answers"
    assert result.evaluation_detail is None


def test_no_shared_task_gives_a_reason() -> None:
    sim = make_table([{"task_id": "1", "survey": {"reuse": 0.5}}])
    hum = make_table([{"task_id": "2", "survey": {"reuse": 0.5}}], source="human")
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    assert result.components.missing["evaluation"] == "no task has survey answers on both sides"


def test_judge_agreement_by_hand() -> None:
    # Scores are goodness (spec §5); the table holds form positions.
    # episode   dimension          participant  judge   judge − participant
    #   e1      task_success       1.0          0.75    −0.25
    #   e1      interaction_flow   1/3          2/3     +1/3
    #   e2      task_success       0.5          0.25    −0.25
    #   e3      reuse              0.5          —       (no judge: not paired)
    # MAE = (0.25 + 1/3 + 0.25) / 3 = 0.2778; task_success Δ = −0.25 (conservative),
    # interaction_flow Δ = +1/3 (lenient), as the paper found.
    table = make_table(
        [
            {
                "survey": {"task_success": 1.0, "interaction_flow": 1 / 3},
                "judge": {"task_success": 0.75, "interaction_flow": 2 / 3},
            },
            # judge: form position 0 = "No - Due to a policy issue…", goodness 2 of 1–5 = 0.25
            {"survey": {"task_success": 0.5}, "judge": {"task_success": 0.0}},
            {"survey": {"reuse": 0.5}},
        ],
        source="human",
    )
    agreement = judge_agreement(table)
    assert agreement is not None
    assert agreement.n_episodes == 2 and agreement.n_pairs == 3
    assert agreement.mae == pytest.approx((0.25 + 1 / 3 + 0.25) / 3)
    ts = agreement.dimensions["task_success"]
    assert (ts.participant, ts.judge, ts.delta, ts.mae) == pytest.approx((0.75, 0.5, -0.25, 0.25))
    assert agreement.dimensions["interaction_flow"].delta == pytest.approx(1 / 3)
    assert "reuse" not in agreement.dimensions


def test_no_judge_answers_means_no_agreement() -> None:
    assert judge_agreement(make_table([{"survey": {"reuse": 0.5}}])) is None
