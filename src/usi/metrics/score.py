"""Putting it together: one simulator, or several, scored against the same humans.

:func:`score_simulator` is the scoring entry point: two already-loaded tables (from
``load_table``) in, one :class:`~usi.metrics.models.ScoreResult` out. The USI, its
components, their details and the interval come from :func:`usi.metrics.index.score_pair`;
this module adds what sits beside USI (fidelity, the LLM judge).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from usi.metrics.bootstrap import N_BOOTSTRAP
from usi.metrics.evaluation import judge_agreement
from usi.metrics.fidelity import DEFAULT_SEED, human_coverage_reference, measure_fidelity
from usi.metrics.index import human_ceiling, noise_floors, score_pair, split_half
from usi.metrics.models import JudgeDetail, Leaderboard, ScoreResult


def _judge(simulator: pd.DataFrame, human: pd.DataFrame) -> JudgeDetail | None:
    judge_human, judge_simulator = judge_agreement(human), judge_agreement(simulator)
    if judge_human is None and judge_simulator is None:
        return None
    return JudgeDetail(human=judge_human, simulator=judge_simulator)


def score_simulator(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    name: str | None = None,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_fidelity: bool = True,
    coverage_reference: float | None = None,
    floors: tuple[float | None, float | None] | None = None,
) -> ScoreResult:
    """Score one simulator's table against the humans' table (both from ``load_table``).

    ``coverage_reference`` (humans vs humans coverage) and ``floors`` (the humans' v1 noise
    floors) are computed here unless given: a leaderboard computes them once for all.
    """
    if name is None:
        sources = simulator["source"].astype(str).unique()
        name = str(sources[0]) if len(sources) == 1 else "+".join(map(str, sources))
    result = score_pair(simulator, human, name, n_bootstrap=n_bootstrap, seed=seed, floors=floors)
    fidelity = None
    if with_fidelity:
        reference = coverage_reference
        if reference is None:
            reference = human_coverage_reference(split_half(human), seed)
        fidelity = measure_fidelity(simulator, human, reference, seed)
    return result.model_copy(update={"fidelity": fidelity, "judge": _judge(simulator, human)})


def score_leaderboard(
    simulators: Mapping[str, pd.DataFrame],
    human: pd.DataFrame,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_fidelity: bool = True,
) -> Leaderboard:
    """Every simulator against the same humans, best USI first, under the human ceiling."""
    reference = human_coverage_reference(split_half(human), seed) if with_fidelity else None
    floors = noise_floors(human)
    results = [
        score_simulator(
            table,
            human,
            name,
            n_bootstrap=n_bootstrap,
            seed=seed,
            with_fidelity=with_fidelity,
            coverage_reference=reference,
            floors=floors,
        )
        for name, table in simulators.items()
    ]
    results.sort(key=lambda r: (r.usi.value is None, -(r.usi.value or 0.0), r.simulator))
    ceiling = human_ceiling(human, n_bootstrap=n_bootstrap, seed=seed, floors=floors)
    return Leaderboard(ceiling=ceiling, leaderboard=results)
