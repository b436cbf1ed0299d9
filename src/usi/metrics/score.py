"""The one scoring entry: simulators against the same people, for either definition set.

:func:`score` is what ``usi score``, ``usi report`` and ``usi demo`` call: tables in (from
``load_table``), every simulator's result and the human ceiling out. What depends on the
people alone — usi-v2's split of them in halves (:func:`~usi.metrics.index.split_half`), their
noise floors and coverage reference, tau-usi's difficulty map, and the ceiling — is computed
once per call in :func:`people_reference` and reused for every simulator, so a leaderboard of
ten costs one split, one set of floors and one ceiling, and every simulator is scored against
exactly the same reference.

Its three steps are public for a caller that needs one of them alone: :func:`people_reference`
(the people's work), :func:`score_against` (one simulator, also run in a worker pool's
processes: :func:`score`'s ``pool``) and :func:`ceiling_of`.

:func:`score_simulator` (usi-v2, the public one-simulator function) is the same path for one
simulator and no ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

import pandas as pd

from usi.metrics.bootstrap import N_BOOTSTRAP
from usi.metrics.evaluation import judge_agreement
from usi.metrics.fidelity import DEFAULT_SEED, human_coverage_reference, measure_fidelity
from usi.metrics.index import noise_floors, score_pair, split_half
from usi.metrics.models import CeilingResult, JudgeDetail, Leaderboard, ScoreResult

if TYPE_CHECKING:
    from usi.metrics.tau_usi.evaluation import Ratings
    from usi.metrics.tau_usi.models import TauUsiResult

Halves = tuple[pd.DataFrame, pd.DataFrame]
Floors = tuple[float | None, float | None]
Difficulty = tuple[dict[str, float], str]


R = TypeVar("R", bound="ScoreResult | TauUsiResult")


@dataclass(frozen=True)
class PeopleReference:
    """Everything scoring needs from the people alone, computed once per call.

    ``definitions`` names the set; the usi-v2 fields are None under tau-usi and the tau-usi
    field under usi-v2. Plain data, so it travels to worker processes.
    """

    definitions: str
    human: pd.DataFrame
    n_bootstrap: int = N_BOOTSTRAP
    seed: int = DEFAULT_SEED
    #: usi-v2: the people in two halves, their v1 noise floors, their coverage of each other.
    halves: Halves | None = None
    floors: Floors | None = None
    coverage_reference: float | None = None
    with_fidelity: bool = True
    #: tau-usi: the ECE difficulty map and its label (the shipped one unless given).
    difficulty: Difficulty | None = None


def people_reference(
    human: pd.DataFrame,
    definitions: str,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_fidelity: bool = True,
    difficulty: Difficulty | None = None,
) -> PeopleReference:
    """The per-people work of a scoring call, once: usi-v2 splits the people in halves one
    time and derives the noise floors and the coverage reference from that split; tau-usi
    loads its difficulty map."""
    if definitions == "tau-usi":
        from usi.metrics.tau_usi.score import load_difficulty

        return PeopleReference(
            definitions,
            human,
            n_bootstrap,
            seed,
            with_fidelity=with_fidelity,
            difficulty=difficulty or load_difficulty(),
        )
    _known(definitions)
    halves = split_half(human)
    return PeopleReference(
        definitions,
        human,
        n_bootstrap,
        seed,
        halves=halves,
        floors=noise_floors(human, halves),
        coverage_reference=human_coverage_reference(halves, seed) if with_fidelity else None,
        with_fidelity=with_fidelity,
    )


def _known(definitions: str) -> None:
    from usi.fingerprint.definitions import get_definitions

    get_definitions(definitions)  # an unknown name is bad input, said once, here


def _judge(simulator: pd.DataFrame, human: pd.DataFrame) -> JudgeDetail | None:
    judge_human, judge_simulator = judge_agreement(human), judge_agreement(simulator)
    if judge_human is None and judge_simulator is None:
        return None
    return JudgeDetail(human=judge_human, simulator=judge_simulator)


def _v2_score(simulator: pd.DataFrame, people: PeopleReference, name: str) -> ScoreResult:
    """usi-v2: :func:`score_pair`, then what sits beside USI (fidelity, the LLM judge)."""
    human = people.human
    result = score_pair(
        simulator,
        human,
        name,
        n_bootstrap=people.n_bootstrap,
        seed=people.seed,
        floors=people.floors,
    )
    fidelity = None
    if people.with_fidelity:
        fidelity = measure_fidelity(simulator, human, people.coverage_reference, people.seed)
    return result.model_copy(update={"fidelity": fidelity, "judge": _judge(simulator, human)})


def score_against(
    simulator: pd.DataFrame,
    people: PeopleReference,
    name: str,
    *,
    ratings: Ratings | None = None,
) -> ScoreResult | TauUsiResult:
    """One simulator against the prepared people, by ``people.definitions``.

    ``ratings`` (tau-usi only): the simulator model's ratings of the human conversations, the
    Eval term.
    """
    if people.definitions == "tau-usi":
        from usi.metrics.tau_usi.score import score_simulator as tau_usi_score

        return tau_usi_score(
            simulator,
            people.human,
            name,
            ratings=ratings,
            difficulty=people.difficulty,
            n_bootstrap=people.n_bootstrap,
            seed=people.seed,
        )
    return _v2_score(simulator, people, name)


def _score_job(
    job: tuple[pd.DataFrame, PeopleReference, str, Ratings | None],
) -> ScoreResult | TauUsiResult:
    """:func:`score_against` as one picklable job of a worker pool."""
    table, people, name, ratings = job
    return score_against(table, people, name, ratings=ratings)


def ceiling_of(
    people: PeopleReference,
    *,
    n_bootstrap: int | None = None,
    ratings: Ratings | None = None,
) -> tuple[CeilingResult | TauUsiResult | None, str]:
    """The human ceiling of the prepared people (:mod:`usi.metrics.ceiling`), and why it has no
    value ("" when it has one).

    ``n_bootstrap``: replicates of the ceiling's interval (default: the reference's).
    usi-v2 always returns its ceiling (a valueless one says why); tau-usi returns None when
    there is no pair of batches. ``ratings`` (tau-usi): a second person's ratings of batch 1.
    """
    from usi.metrics.ceiling import human_ceiling, tau_usi_ceiling_or_reason

    replicates = people.n_bootstrap if n_bootstrap is None else n_bootstrap
    if people.definitions == "tau-usi":
        return tau_usi_ceiling_or_reason(
            people.human,
            ratings=ratings,
            difficulty=people.difficulty,
            n_bootstrap=replicates,
            seed=people.seed,
        )
    ceiling = human_ceiling(
        people.human,
        n_bootstrap=replicates,
        seed=people.seed,
        floors=people.floors,
        halves=people.halves,
    )
    return ceiling, "" if ceiling.value is not None else (ceiling.reason or "not computable")


def ranked(results: Sequence[R]) -> list[R]:
    """Best USI first, unscored last, ties by name: every leaderboard's order."""
    return sorted(results, key=lambda r: (r.usi.value is None, -(r.usi.value or 0.0), r.simulator))


@dataclass
class Scores:
    """What one scoring call returns: the ranked results and the ceiling (or why none)."""

    definitions: str
    results: list[ScoreResult | TauUsiResult] = field(default_factory=list)
    ceiling: CeilingResult | TauUsiResult | None = None
    #: Why the ceiling has no value ("" when it has one, or was not asked for).
    ceiling_reason: str = ""

    def leaderboard(self) -> Leaderboard:
        """usi-v2's leaderboard model (``usi score --json`` with several simulators)."""
        results = [r for r in self.results if isinstance(r, ScoreResult)]
        if self.definitions != "usi-v2" or not isinstance(self.ceiling, CeilingResult):
            raise ValueError("a Leaderboard holds usi-v2 results and their ceiling")
        return Leaderboard(ceiling=self.ceiling, leaderboard=results)


def score(
    simulators: Mapping[str, pd.DataFrame],
    human: pd.DataFrame,
    *,
    definitions: str,
    ceiling: bool = True,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_fidelity: bool = True,
    ratings: Mapping[str, Ratings | None] | None = None,
    difficulty: Difficulty | None = None,
    ceiling_bootstrap: int | None = None,
    ceiling_ratings: Ratings | None = None,
    pool: Executor | None = None,
) -> Scores:
    """Every simulator against the same people, best first, and the human ceiling once.

    ``definitions``: ``usi-v2`` or ``tau-usi``. ``ratings``: simulator name → its tau-usi
    Eval ratings (absent: 5 terms). ``ceiling_bootstrap``: replicates of the ceiling's
    interval (default ``n_bootstrap``; the tau-usi terminal table shows none). With no
    simulators this is the ceiling alone (``usi score --ceiling``). ``pool``: simulators are
    scored in its worker processes (the report's), the people's work still once, here.
    """
    people = people_reference(
        human,
        definitions,
        n_bootstrap=n_bootstrap,
        seed=seed,
        with_fidelity=with_fidelity,
        difficulty=difficulty,
    )
    # The workers need no halves (only the ceiling, scored here, does): don't ship them.
    shipped = people if pool is None else replace(people, halves=None)
    jobs = [(table, shipped, name, (ratings or {}).get(name)) for name, table in simulators.items()]
    results = list(map(_score_job, jobs) if pool is None else pool.map(_score_job, jobs))
    out = Scores(definitions, ranked(results))
    if ceiling:
        out.ceiling, out.ceiling_reason = ceiling_of(
            people, n_bootstrap=ceiling_bootstrap, ratings=ceiling_ratings
        )
    return out


def score_simulator(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    name: str | None = None,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_fidelity: bool = True,
) -> ScoreResult:
    """Score one simulator's table against the humans' table (both from ``load_table``), usi-v2.

    The :func:`score` path for one simulator and no ceiling; the name defaults to the
    table's source(s).
    """
    if name is None:
        sources = simulator["source"].astype(str).unique()
        name = str(sources[0]) if len(sources) == 1 else "+".join(map(str, sources))
    people = people_reference(
        human, "usi-v2", n_bootstrap=n_bootstrap, seed=seed, with_fidelity=with_fidelity
    )
    return _v2_score(simulator, people, name)


def score_leaderboard(
    simulators: Mapping[str, pd.DataFrame],
    human: pd.DataFrame,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_fidelity: bool = True,
) -> Leaderboard:
    """usi-v2: every simulator against the same humans, best first, under the human ceiling
    (:func:`score`'s result as the ``Leaderboard`` model)."""
    return score(
        simulators,
        human,
        definitions="usi-v2",
        n_bootstrap=n_bootstrap,
        seed=seed,
        with_fidelity=with_fidelity,
    ).leaderboard()
