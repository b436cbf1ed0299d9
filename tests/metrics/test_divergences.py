"""Divergences in words (usi-v2 and the generic builder): by hand, and from the same output."""

from __future__ import annotations

from io import StringIO

import pytest
from rich.console import Console

from metrics.test_support import make_table, random_table
from usi.metrics import score_pair
from usi.metrics.divergences import DivergenceRow, build_divergences, relative_gap, sentence
from usi.metrics.render import TOP_DIVERGENCES, render_score


def test_sentences_and_gaps_by_hand() -> None:
    rows = [
        DivergenceRow("politeness_rate", "polite", 0.49, 0.15, "% of turns"),
        DivergenceRow("task_success", "succeeds", 0.92, 0.64, "% of tasks", "outcome"),
        DivergenceRow("human_like", "rates human-likeness", 0.9, 0.6, "score", "evaluation"),
        DivergenceRow("words_per_turn", "words per turn", 21.0, 8.4, "number"),
        DivergenceRow("accusatory_rate", "blames the agent", 0.003, 0.0, "% of turns"),
        DivergenceRow("formality_rate", "formal", 0.1, 0.1, "% of turns"),
    ]
    texts = [sentence(r) for r in rows]
    assert texts[:4] == [
        "polite in 49% of turns vs 15% for people",
        "succeeds on 92% of tasks vs 64% for people",
        "rates human-likeness 0.90 vs 0.60 for people",
        "words per turn 21.0 vs 8.40 for people",
    ]
    # gaps: .34/.49, .28/.92, .3/.9, 12.6/21 = .6, .003/.1 (the floor) = .03, 0
    assert relative_gap(0.49, 0.15, "% of turns") == pytest.approx(0.34 / 0.49)
    assert relative_gap(0.003, 0.0, "% of turns") == pytest.approx(0.03)
    assert relative_gap(0.02, 0.04, "% of turns") == pytest.approx(0.2)
    assert relative_gap(0.0, 0.0, "number") == 0.0
    ranked = build_divergences(rows)
    assert [d.behaviour for d in ranked] == [
        "politeness_rate",
        "words_per_turn",
        "human_like",
        "task_success",
        "accusatory_rate",
    ]  # formality does not differ: not a divergence
    assert ranked[0].gap == pytest.approx(0.34 / 0.49)
    assert ranked[2].kind == "evaluation" and ranked[2].unit == "score"


def test_score_divergences_show_the_numbers_of_the_same_output() -> None:
    sim = random_table(3, "sim", shift=0.3, success=0.9)
    hum = random_table(4, "human", success=0.4)
    result = score_pair(sim, hum, "sim", n_bootstrap=0)
    gaps = [d.gap for d in result.divergences]
    assert gaps == sorted(gaps, reverse=True) and len(gaps) > 0
    for d in result.divergences:
        if d.kind == "behaviour":
            c = result.features[d.behaviour]
            assert (d.simulator, d.human) == (c.simulator, c.human)
        elif d.kind == "outcome":
            o = result.outcome_detail
            assert (d.simulator, d.human) == (o.simulator_success, o.human_success)
        else:
            assert result.evaluation_detail is not None
            g = result.evaluation_detail.dimensions[d.behaviour]
            assert (d.simulator, d.human) == (g.simulator, g.human)
        assert d.gap == pytest.approx(relative_gap(d.simulator, d.human, d.unit))
    assert "divergences" in result.model_dump()


def test_a_polite_simulator_is_told_it_is_polite_first() -> None:
    # people: polite in 3 of 20 turns (15%); simulator: 10 of 20 (50%); all else equal
    hum = make_table(
        [{"task_id": "1", "n_user_turns": 20, "politeness_rate": 0.15, "reward": 1.0}],
        source="human",
    )
    sim = make_table([{"task_id": "1", "n_user_turns": 20, "politeness_rate": 0.5, "reward": 1.0}])
    result = score_pair(sim, hum, "polite", n_bootstrap=0)
    assert [d.text for d in result.divergences] == ["polite in 50% of turns vs 15% for people"]
    out = StringIO()
    render_score(result, Console(file=out, width=200))
    assert "1. polite in 50% of turns vs 15% for people" in out.getvalue()
    assert TOP_DIVERGENCES == 5
