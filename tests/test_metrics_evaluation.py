"""Evaluative alignment = 1 − MAE, survey Δs, and the LLM judge vs participants (spec §5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_metrics_support import make_table
from usi.data.survey import SURVEY_ITEM_IDS
from usi.metrics import evaluative_alignment, judge_agreement

SIM = [
    {"task_id": "1", "survey": {"task_success": 1.0, "reuse": 0.5}},
    {"task_id": "1", "survey": {"task_success": 0.5}},
    {"task_id": "2", "survey": {"human_like": 1.0}},
]
HUMAN = [
    {"task_id": "1", "survey": {"task_success": 0.5, "reuse": 0.25}},
    {"task_id": "2", "survey": {"human_like": 0.5, "reuse": 0.75}},
    {"task_id": "3", "survey": {"task_success": 0.0}},
]


def test_evaluative_alignment_by_hand() -> None:
    # per-task means          simulator             human
    #   task 1                ts 0.75, reuse 0.5    ts 0.5, reuse 0.25
    #   task 2                human_like 1.0        human_like 0.5, reuse 0.75 (no sim reuse)
    #   task 3                —                     ts 0.0 (no sim episode)
    # pairs: |0.75−0.5| = 0.25, |0.5−0.25| = 0.25, |1.0−0.5| = 0.5 → MAE = 1.0/3
    result = evaluative_alignment(make_table(SIM), make_table(HUMAN, source="human"))
    assert result.n_pairs == 3 and result.n_tasks == 2
    assert result.mae == pytest.approx(1 / 3)
    assert result.value == pytest.approx(2 / 3)
    # Δ = sim − human over the same pairs; relative = Δ / human mean
    ts = result.dimensions["task_success"]
    assert (ts.human, ts.simulator, ts.delta) == pytest.approx((0.5, 0.75, 0.25))
    assert ts.relative_overestimation == pytest.approx(0.5)
    assert result.dimensions["human_like"].relative_overestimation == pytest.approx(1.0)
    assert result.dimensions["reuse"].delta == pytest.approx(0.25)
    assert "efficiency" not in result.dimensions


def test_relative_overestimation_is_none_when_humans_score_zero() -> None:
    sim = make_table([{"task_id": "1", "survey": {"reuse": 0.5}}])
    hum = make_table([{"task_id": "1", "survey": {"reuse": 0.0}}], source="human")
    gap = evaluative_alignment(sim, hum).dimensions["reuse"]
    assert gap.delta == 0.5 and gap.relative_overestimation is None


@pytest.mark.parametrize("side", ["simulator", "human"])
def test_no_survey_on_one_side_gives_a_reason(side: str) -> None:
    answered = [{"task_id": "1", "survey": {"reuse": 0.5}}]
    silent = [{"task_id": "1"}]
    sim = make_table(silent if side == "simulator" else answered)
    hum = make_table(silent if side == "human" else answered, source="human")
    result = evaluative_alignment(sim, hum)
    assert result.value is None
    assert result.reason == f"no {side} survey answers"


def test_no_shared_task_gives_a_reason() -> None:
    sim = make_table([{"task_id": "1", "survey": {"reuse": 0.5}}])
    hum = make_table([{"task_id": "2", "survey": {"reuse": 0.5}}], source="human")
    assert evaluative_alignment(sim, hum).reason == "no task has survey answers on both sides"


grid = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, None])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.lists(grid, min_size=8, max_size=8)), min_size=1))
def test_a_table_against_itself_has_evaluation_one(rows: list[tuple[int, list]]) -> None:
    records = [
        {
            "task_id": str(t),
            "survey": {
                d: v for d, v in zip(SURVEY_ITEM_IDS, answers, strict=True) if v is not None
            },
        }
        for t, answers in rows
    ]
    table = make_table(records)
    result = evaluative_alignment(table, table)
    if result.value is not None:
        assert result.value == pytest.approx(1.0)
    else:
        assert all(all(v is None for v in answers) for _, answers in rows)


def test_judge_agreement_by_hand() -> None:
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
            {"survey": {"task_success": 0.5}, "judge": {"task_success": 0.25}},
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
