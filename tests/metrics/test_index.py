"""The User-Sim Index (spec §6, usi-v2): by hand, invariants, interval, per-batch, ceiling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.test_support import make_table, random_table
from usi.fingerprint.features import DIMENSIONS
from usi.metrics import (
    COMPONENT_NAMES,
    MIN_PAIRED_TASKS,
    ScoreResult,
    component_arrays,
    human_ceiling,
    score_pair,
    split_half,
    summarize,
    usi_of,
)
from usi.metrics.alignment import dice
from usi.metrics.bootstrap import bootstrap_usi
from usi.metrics.components import point_support
from usi.report.scores import from_ceiling

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
    # D1 = 1: its rate features have no cue turn (unsupported), its two mean features are
    #   0 vs 0 (Dice 1). D3, D4: only rate features, none supported → missing.
    # D2 = (dice(.6,.6) + dice(.5,1.5) + dice(10,30)) / 3 = (1 + .5 + .5) / 3 = 2/3
    # outcome: task 1 ŝ = 1/2, ĥ = 1 → 0.5;  evaluation: reuse |0.5 − 0.25| → 0.75
    # USI = 100 · (1 + 2/3 + 0.5 + 0.75) / 4 = 72.9166…
    result = score_pair(*_pair(), "sim", n_bootstrap=0)
    c = result.components
    assert (c.D1, c.D2, c.outcome, c.evaluation) == pytest.approx((1.0, 2 / 3, 0.5, 0.75))
    assert c.D3 is None and c.D4 is None and set(c.missing) == {"D3", "D4"}
    assert result.usi.components_used == ["D1", "D2", "outcome", "evaluation"]
    assert result.usi.value == pytest.approx(100 * (1 + 2 / 3 + 0.5 + 0.75) / 4)
    assert len(result.unsupported) == 14
    assert result.definitions == "usi-v2"


def test_missing_survey_and_reward_leave_the_rest_and_say_why() -> None:
    result = score_pair(*_pair(survey=False), "sim", n_bootstrap=0)
    assert result.components.evaluation is None
    assert result.components.missing["evaluation"] == "no simulator survey answers"
    assert result.usi.value == pytest.approx(100 * (1 + 2 / 3 + 0.5) / 3)
    bare = score_pair(*_pair(reward=False, survey=False), "sim", n_bootstrap=0)
    assert bare.usi.components_used == ["D1", "D2"]


def test_usi_of_nothing_is_nan_and_none_is_left_out() -> None:
    assert np.isnan(usi_of(dict.fromkeys(COMPONENT_NAMES))[0])
    assert usi_of({"D1": 0.5, "D2": None})[0] == pytest.approx(50.0)


def _check_invariants(result: ScoreResult) -> None:
    """Everything the spec promises about one output, read from that output only."""
    values = [getattr(result.components, c) for c in result.usi.components_used]
    assert result.usi.components_used == [
        c for c in COMPONENT_NAMES if getattr(result.components, c) is not None
    ]
    assert set(result.components.missing) == set(COMPONENT_NAMES) - set(result.usi.components_used)
    if values:
        assert result.usi.value == pytest.approx(100 * sum(values) / len(values), abs=1e-9)
    for value in values:
        assert 0.0 <= value <= 1.0
    for dimension, features in DIMENSIONS.items():
        kept = [result.features[f].dice for f in features if result.features[f].supported]
        value = getattr(result.components, dimension)
        assert (value is None) == (not kept)
        if kept:
            assert value == pytest.approx(float(np.mean(kept)), abs=1e-12)
    listed = {u.feature for u in result.unsupported}
    assert listed == {f for f, c in result.features.items() if not c.supported}
    outcome = result.outcome_detail
    if result.components.outcome is not None:
        assert outcome.ece is not None and outcome.delta is not None
        assert result.components.outcome == pytest.approx(1.0 - outcome.ece, abs=1e-12)
        assert outcome.ece == pytest.approx(abs(outcome.delta), abs=1e-12)
    detail = result.evaluation_detail
    if result.components.evaluation is not None:
        assert detail is not None
        gaps = [abs(g.delta) for g in detail.dimensions.values()]
        assert result.components.evaluation == pytest.approx(1.0 - np.mean(gaps), abs=1e-12)
        assert detail.mae == pytest.approx(np.mean(gaps), abs=1e-12)
    if result.usi.ci_low is not None:
        assert result.usi.ci_high is not None and result.usi.ci_low <= result.usi.ci_high


tables = st.tuples(st.integers(0, 10_000), st.floats(0, 1), st.integers(1, 12), st.integers(1, 4))


@settings(deadline=None, max_examples=30)
@given(tables)
def test_every_output_keeps_the_invariants_and_is_symmetric(args: tuple) -> None:
    seed, shift, n_tasks, per_task = args
    sim = random_table(seed, "sim", n_tasks=n_tasks, per_task=per_task, shift=shift)
    hum = random_table(seed + 1, "human", n_tasks=n_tasks + 2, per_task=per_task)
    sim["n_user_turns"] = np.arange(len(sim)) % 9 + 1
    forward = score_pair(sim, hum, "sim", n_bootstrap=50, seed=seed)
    _check_invariants(forward)
    backward = score_pair(hum, sim, "hum", n_bootstrap=0)
    _check_invariants(backward)
    # every v2 component is symmetric in its two sides once the feature set is the same
    # (the support rule reads the human side only, so swapping the sides may change it)
    swapped = summarize(hum, sim)
    same_features = component_arrays(swapped, swapped.ones(), point_support(summarize(sim, hum)))
    for c in COMPONENT_NAMES:
        a, b = getattr(forward.components, c), same_features.values()[c][0]
        assert (a is None and np.isnan(b)) or a == pytest.approx(b, abs=1e-12)
    for c in ("outcome", "evaluation"):
        a, b = getattr(forward.components, c), getattr(backward.components, c)
        assert (a is None and b is None) or a == pytest.approx(b, abs=1e-12)


@settings(deadline=None, max_examples=20)
@given(st.integers(0, 10_000), st.integers(1, 10), st.integers(1, 4))
def test_identical_sides_score_one_everywhere(seed: int, n_tasks: int, per_task: int) -> None:
    table = random_table(seed, "human", n_tasks=n_tasks, per_task=per_task)
    result = score_pair(table.assign(source="sim"), table, "clone", n_bootstrap=0)
    for c in result.usi.components_used:
        assert getattr(result.components, c) == pytest.approx(1.0)
    assert result.usi.value == pytest.approx(100.0)


def test_a_bootstrap_replicate_is_the_score_of_the_resampled_tables() -> None:
    # Two paths: weights (2, 0, 1, …) on the summaries, and tables in which task 0 appears
    # twice (a copy under a new id: a task drawn twice counts twice) and task 1 not at all,
    # scored from scratch.
    sim = random_table(3, "sim", n_tasks=6, shift=0.2)
    hum = random_table(4, "human", n_tasks=6)
    paired = summarize(sim, hum)
    weights = np.ones((1, paired.n_units))
    weights[0, paired.units.index("retail/0")] = 2.0
    weights[0, paired.units.index("retail/1")] = 0.0
    replicate = component_arrays(paired, weights).values()

    def resample(table: pd.DataFrame) -> pd.DataFrame:
        kept = table[table["task_id"] != "1"]
        copy = table[table["task_id"] == "0"].assign(task_id="0-copy")
        return pd.concat([kept, copy], ignore_index=True)

    direct = score_pair(resample(sim), resample(hum), "sim", n_bootstrap=0)
    for c in COMPONENT_NAMES:
        assert replicate[c][0] == pytest.approx(getattr(direct.components, c), abs=1e-12)
    assert usi_of(replicate)[0] == pytest.approx(direct.usi.value)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    sim = random_table(5, "sim", n_tasks=30, shift=0.15, success=0.4)
    hum = random_table(6, "human", n_tasks=30)
    a = score_pair(sim, hum, "s", n_bootstrap=400, seed=1)
    b = score_pair(sim, hum, "s", n_bootstrap=400, seed=1)
    assert a.uncertainty.method == "bootstrap" and a.uncertainty.n_bootstrap == 400
    assert a.uncertainty.n_tasks_resampled == 30
    assert (a.usi.ci_low, a.usi.ci_high) == (b.usi.ci_low, b.usi.ci_high)
    assert a.usi.ci_low is not None and a.usi.ci_high is not None and a.usi.value is not None
    assert a.usi.ci_low < a.usi.value < a.usi.ci_high
    assert a.uncertainty.std is not None and a.uncertainty.std > 0
    paired = summarize(sim, hum)
    used = a.usi.components_used
    assert not np.allclose(bootstrap_usi(paired, used, 400, 2), bootstrap_usi(paired, used, 400, 1))


def test_few_paired_tasks_are_said_in_one_line() -> None:
    few = score_pair(random_table(1, "s", n_tasks=8), random_table(2, "h", n_tasks=8), "s")
    assert few.uncertainty.note is not None
    assert few.uncertainty.note.startswith(
        f"only 8 tasks are paired (fewer than {MIN_PAIRED_TASKS})"
    )
    many = score_pair(random_table(1, "s", n_tasks=30), random_table(2, "h", n_tasks=30), "s")
    assert many.uncertainty.note is None


def _batched_humans(seeds: tuple[int, ...] = (11, 12, 13)) -> pd.DataFrame:
    return pd.concat(
        [random_table(s, "human", batch=b) for b, s in enumerate(seeds, start=1)],
        ignore_index=True,
    )


def test_headline_is_pooled_and_per_batch_scores_are_a_detail() -> None:
    humans = _batched_humans()
    sim = random_table(7, "sim", shift=0.3)
    result = score_pair(sim, humans, "sim", n_bootstrap=100)
    pooled = score_pair(sim, humans.assign(batch=pd.NA), "sim", n_bootstrap=0)
    assert result.usi.value == pytest.approx(pooled.usi.value)  # all humans together
    per_batch = [
        score_pair(sim, humans[humans["batch"] == b], "sim", n_bootstrap=0).usi.value
        for b in (1, 2, 3)
    ]
    u = result.uncertainty
    assert u.method == "bootstrap" and u.n_batches == 3
    assert list(u.per_batch.values()) == pytest.approx(per_batch)
    assert u.batch_std == pytest.approx(np.std(per_batch, ddof=1))
    _check_invariants(result)


def test_ceiling_with_three_batches_is_leave_one_batch_out() -> None:
    humans = _batched_humans()
    folds = []
    for b in (1, 2, 3):
        held = humans["batch"] == b
        folds.append(score_pair(humans[held], humans[~held], "f", n_bootstrap=0))
    ceiling = human_ceiling(humans)
    assert ceiling.method == "leave-one-batch-out" and ceiling.n_batches == 3
    assert ceiling.per_fold == pytest.approx([f.usi.value for f in folds])
    for c in COMPONENT_NAMES:
        expected = np.mean([getattr(f.components, c) for f in folds])
        assert getattr(ceiling.components, c) == pytest.approx(expected)
    present = [getattr(ceiling.components, c) for c in ceiling.usi.components_used]
    assert ceiling.value == ceiling.usi.value == pytest.approx(100 * np.mean(present))
    assert ceiling.fold_std == pytest.approx(np.std(ceiling.per_fold, ddof=1))
    assert ceiling.uncertainty.fold_std == ceiling.fold_std
    assert ceiling.uncertainty.method == "folds" and len(ceiling.folds) == 3
    for fold in ceiling.folds:
        _check_invariants(fold)
    assert ceiling.n_episodes == len(humans)


def test_two_batches_are_one_fold_with_a_bootstrap_not_a_zero_std() -> None:
    humans = _batched_humans((11, 12))
    ceiling = human_ceiling(humans, n_bootstrap=200)
    assert ceiling.method == "batch-vs-batch" and len(ceiling.folds) == 1
    one, two = humans[humans["batch"] == 1], humans[humans["batch"] == 2]
    direct = score_pair(one, two, "f", n_bootstrap=0).usi.value
    mirror = score_pair(two, one, "f", n_bootstrap=0).usi.value
    assert ceiling.value == pytest.approx(direct) and direct == pytest.approx(mirror, abs=1e-9)
    assert ceiling.uncertainty.method == "bootstrap"
    assert ceiling.std is not None and ceiling.std > 0
    _check_invariants(ceiling.folds[0])


def test_ceiling_of_identical_batches_is_100_and_above_a_shifted_simulator() -> None:
    one = random_table(21, "human")
    humans = pd.concat([one.assign(batch=b) for b in (1, 2)], ignore_index=True)
    humans["batch"] = humans["batch"].astype("Int64")
    assert human_ceiling(humans, n_bootstrap=0).value == pytest.approx(100.0)
    sim = random_table(22, "sim", shift=0.5, success=0.1)
    value = score_pair(sim, humans, "s", n_bootstrap=0).usi.value
    assert value is not None and value < 90.0


def test_split_half_alternates_within_tasks_and_over_single_session_tasks() -> None:
    humans = random_table(31, "human", n_tasks=5, per_task=3)
    first, second = split_half(humans)
    assert len(first) + len(second) == len(humans)
    assert set(first["task_id"]) == set(second["task_id"]) == {str(t) for t in range(5)}
    assert (first.groupby("task_id").size() == 2).all()  # 3 sessions: 2 + 1
    again, _ = split_half(humans.sample(frac=1.0, random_state=0))
    assert sorted(again["episode_id"]) == sorted(first["episode_id"])  # order-independent
    singles = random_table(32, "human", n_tasks=45, per_task=1, batch=1)
    a, b = split_half(singles)
    assert (len(a), len(b)) == (23, 22)
    assert not set(a["task_id"]) & set(b["task_id"])


def test_ceiling_with_one_batch_scores_half_against_half() -> None:
    humans = random_table(41, "human", n_tasks=10, per_task=4, batch=1)
    first, second = split_half(humans)
    ceiling = human_ceiling(humans, n_bootstrap=100)
    assert ceiling.method == "split-half" and ceiling.n_batches == 1
    assert ceiling.value == pytest.approx(score_pair(second, first, "f", n_bootstrap=0).usi.value)
    assert ceiling.reason is None and ceiling.uncertainty.method == "bootstrap"


def test_one_batch_of_one_session_per_task_splits_and_says_what_is_unpaired() -> None:
    # 45 sessions of one batch, one per task: v1 said "fewer than two human episodes"
    humans = random_table(42, "human", n_tasks=45, per_task=1, batch=1)
    ceiling = human_ceiling(humans, n_bootstrap=0)
    assert ceiling.method == "split-half" and ceiling.value is not None
    assert ceiling.components.missing["outcome"] == "no task has rewarded episodes on both sides"
    assert "fewer than two" not in (ceiling.reason or "")


def test_ceiling_of_a_single_session_says_why_not() -> None:
    ceiling = human_ceiling(make_table([{"task_id": "1"}], source="human"))
    assert ceiling.value is None
    assert ceiling.reason == "1 human episode: nothing to split in two halves"


def test_too_few_bootstrap_replicates_give_no_interval_rather_than_nan() -> None:
    sim, hum = random_table(51, "sim"), random_table(52, "human")
    result = score_pair(sim, hum, "s", n_bootstrap=1)
    assert result.usi.value is not None and result.usi.ci_low is None
    assert result.uncertainty.method == "none" and result.uncertainty.std is None


def test_interval_is_the_replicates_percentiles_centred_on_the_estimate() -> None:
    # Second path: the replicates on the point estimate's feature set, shifted by their mean
    # bias, then the 2.5th/97.5th percentiles. The plain percentile interval is not it.
    sim = random_table(5, "sim", n_tasks=30, shift=0.15, success=0.4)
    hum = random_table(6, "human", n_tasks=30)
    result = score_pair(sim, hum, "s", n_bootstrap=300, seed=4)
    paired = summarize(sim, hum)
    replicates = bootstrap_usi(paired, result.usi.components_used, 300, 4, point_support(paired))
    value = result.usi.value
    assert value is not None
    bias = float(replicates.mean()) - value
    low, high = np.percentile(replicates - bias, [2.5, 97.5])
    assert (result.usi.ci_low, result.usi.ci_high) == pytest.approx((low, high), abs=1e-9)
    assert result.uncertainty.replicate_bias == pytest.approx(bias, abs=1e-9)
    assert result.uncertainty.interval == "bias-centred percentile"
    plain = np.percentile(replicates, [2.5, 97.5])
    assert abs(bias) > 0 and not np.allclose(plain, (low, high))


def test_centred_interval_by_hand() -> None:
    # replicates 1..9 (mean 5), estimate 6: shifted to 2..10; 0%/100% percentiles = ends
    from usi.metrics.bootstrap import centred_interval

    replicates = np.arange(1.0, 10.0)
    assert centred_interval(replicates, 6.0, confidence=1.0) == pytest.approx((2.0, 10.0))
    assert centred_interval(replicates, 5.0, confidence=0.0) == pytest.approx((5.0, 5.0))


def test_per_batch_scores_use_the_headline_features_and_components() -> None:
    # Batch 3 has no reward: its score would average 5 components, the others 6, so it has
    # none (and says why). Batch 2's people never pivot: against batch 2 alone pivot has 0
    # human cue turns, but the headline keeps it (pooled ≥ 5), so batch 2's D4 counts it.
    humans = _batched_humans()
    humans.loc[humans["batch"] == 3, "reward"] = np.nan
    humans.loc[humans["batch"] == 2, "strategy_pivot_rate"] = 0.0
    sim = random_table(7, "sim", shift=0.3)
    result = score_pair(sim, humans, "sim", n_bootstrap=0)
    u = result.uncertainty
    assert u.per_batch["3"] is None
    assert u.per_batch_note is not None and "batch 3 (outcome)" in u.per_batch_note
    paired = summarize(sim, humans)
    part = summarize(sim, humans[humans["batch"] == 2])
    values = component_arrays(part, part.ones(), point_support(paired)).values()
    assert result.features["strategy_pivot_rate"].supported
    assert u.per_batch["2"] == pytest.approx(usi_of(values, result.usi.components_used)[0])
    own_rule = component_arrays(part, part.ones()).values()  # batch 2 deciding alone
    assert values["D4"][0] < own_rule["D4"][0]  # pivot counted, at Dice 0
    defined = [v for v in u.per_batch.values() if v is not None]
    assert u.batch_std == pytest.approx(np.std(defined, ddof=1))


def test_leave_one_batch_out_ceiling_output_follows_from_itself() -> None:
    # Batch 1: tasks 0–11, batch 2: tasks 0–5, batch 3: tasks 20–23. Tasks in two batches:
    # 0–5 → 6 paired; per fold: batch 1 vs 2+3 → 6, batch 2 vs 1+3 → 6, batch 3 vs 1+2 → 0.
    one = random_table(11, "human", batch=1)
    two = random_table(12, "human", n_tasks=6, batch=2)
    three = random_table(13, "human", n_tasks=4, batch=3)
    three["task_id"] = (three["task_id"].astype(int) + 20).astype(str)
    humans = pd.concat([one, two, three], ignore_index=True)
    ceiling = human_ceiling(humans, n_bootstrap=100)
    assert ceiling.n_tasks_paired == 6
    assert ceiling.per_fold_tasks_paired == [6, 6, 0]
    # the fold spread is named as such, never in the bootstrap's fields; here batch 3's fold
    # pairs no task (no outcome, no evaluation): its USI averages fewer components, so the
    # folds' USIs are not one spread and fold_std is null
    assert ceiling.usi.ci_low is None and ceiling.usi.ci_high is None
    assert ceiling.std is None and ceiling.uncertainty.std is None
    assert ceiling.folds[2].usi.components_used == ["D1", "D2", "D3", "D4"]
    assert ceiling.fold_std is None
    # no pooled feature block whose Dice would not follow from its sides: each fold has its own
    assert ceiling.features == {} and ceiling.unsupported == []
    for fold in ceiling.folds:
        _check_invariants(fold)
        for c in fold.features.values():
            if c.dice is not None and c.simulator is not None and c.human is not None:
                assert c.dice == pytest.approx(dice(c.simulator, c.human), abs=1e-12)
    # the report's ceiling row counts the paired tasks and shows the fold spread
    row = from_ceiling(ceiling)
    assert row.n_tasks_paired == 6 and row.usi_std == ceiling.fold_std
    assert row.ci_low is None and row.ci_high is None


def test_one_fold_ceiling_counts_its_paired_tasks() -> None:
    humans = _batched_humans((11, 12))
    ceiling = human_ceiling(humans, n_bootstrap=0)
    assert ceiling.n_tasks_paired == ceiling.folds[0].n_tasks_paired == 12
    assert ceiling.per_fold_tasks_paired == [12]
    assert from_ceiling(ceiling).n_tasks_paired == 12


def test_the_ceiling_is_worded_as_people_against_people_that_a_simulator_can_exceed() -> None:
    from io import StringIO

    from rich.console import Console

    from usi.metrics.render import render_ceiling
    from usi.report.sections.leaderboard import GUIDE

    humans = _batched_humans()
    ceiling = human_ceiling(humans, n_bootstrap=0)
    clone = score_pair(humans.assign(source="clone"), humans, "clone", n_bootstrap=0)
    assert ceiling.value is not None and clone.usi.value == pytest.approx(100.0)
    assert clone.usi.value > ceiling.value  # what the wording says
    out = StringIO()
    render_ceiling(ceiling, Console(file=out, width=200))
    text = out.getvalue()
    assert "how well one group of people matches another" in text
    assert "a simulator can exceed it" in text
    assert "tasks paired: 12 (per fold 12/12/12)" in text
    assert "fold spread" in text and "95%" not in text
    assert "how well one group of people matches another" in GUIDE
    assert "best a simulator" not in GUIDE


def test_bca_is_the_percentile_interval_when_unbiased_and_moves_up_when_replicates_fall_short() -> (
    None
):
    from usi.metrics.bootstrap import bca_interval, percentile_interval

    replicates = np.linspace(80.0, 90.0, 201)  # centred on 85, symmetric jackknife: a = 0
    jackknife = np.array([84.0, 85.0, 86.0])
    assert bca_interval(replicates, 85.0, jackknife) == pytest.approx(
        percentile_interval(replicates)
    )
    low, high = bca_interval(replicates - 2.0, 85.0, jackknife)  # replicates 2 below
    plain = percentile_interval(replicates - 2.0)
    assert low > plain[0] and high > plain[1]


def test_a_jackknife_value_is_the_score_without_that_task() -> None:
    from usi.metrics.bootstrap import jackknife_usi

    sim = random_table(3, "sim", n_tasks=6, shift=0.2)
    hum = random_table(4, "human", n_tasks=6)
    paired = summarize(sim, hum)
    used = list(COMPONENT_NAMES)
    support = point_support(paired)
    values = jackknife_usi(paired, used, support)
    assert len(values) == paired.n_units == 6
    i = paired.units.index("retail/2")
    direct = score_pair(sim[sim["task_id"] != "2"], hum[hum["task_id"] != "2"], "s", n_bootstrap=0)
    assert values[i] == pytest.approx(direct.usi.value, abs=1e-9)
