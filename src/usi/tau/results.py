"""τ²'s results JSON both ways: read a ``tau2 run`` file, and write ``usi run``'s episodes as one.

Reading (:func:`read_tau2_results`) and writing (:func:`tau2_results_json`, the ``.tau2.json``
beside ``usi run``'s OUT) use the same keys (``reward_info.info.usi_*``) and the same message
converter (:mod:`usi.tau.messages`), so a file usi writes reads back as the same episodes.

The file is validated with τ²'s own pydantic model (:class:`tau2.data_model.simulation.Results`)
so a results file is accepted exactly when τ² itself would load it; this module only maps
each :class:`~tau2.data_model.simulation.SimulationRun` to one canonical :class:`Episode`.

Mapping:

- ``episode_id`` = the canonical id ``usi run`` recorded (``reward_info.info.usi_episode_id``),
  else the simulation id, so an episode has one id in both files a run writes; ``source`` =
  the user simulator's LLM (``info.user_info.llm``), or ``"tau2-user"`` when the run names
  none; the simulator name ``usi run`` records (``reward_info.info.usi_source``, or a
  ``"simulator"`` key on the simulation) wins.
- ``domain`` = ``info.environment_info.domain_name``; ``task_id``; ``reward`` =
  ``reward_info.reward`` (null when the simulation has no reward).
- messages: user, assistant and tool messages in order, ``tool_calls`` kept with their ids;
  converted by :func:`usi.tau.messages.from_tau`, the converter ``usi run`` uses too: the
  simulator's control tokens (``###STOP###`` …) are not kept in user turns but recorded as
  ``metadata["ended_by"]``, so simulated and human user turns are counted alike (spec §1).
- ``survey``: the simulator's own answers to the post-interaction survey, where ``usi run``
  stores them: ``reward_info.info.usi_survey`` (the free-form dict τ²'s model keeps), or a
  ``"survey"`` object on the simulation itself or in ``reward_info.info``. τ² ignores
  unknown keys, so such a file still loads in τ².
- ``metadata``: trial, seed, termination reason (``termination_reason`` as τ² names it, and
  ``termination`` as ``usi run`` records it), ``error`` when ``usi run`` recorded one
  (``reward_info.info.usi_error``), agent/user implementation, model and cost, duration,
  and whether τ² skipped the sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from usi.core.decode import describe_validation_error, load_json
from usi.core.episode import Episode
from usi.errors import UsiInputError
from usi.tau.env import quiet_tau2
from usi.tau.messages import ENDED_BY, from_tau, to_tau
from usi.tau.tasks import domain_tasks

DEFAULT_SOURCE = "tau2-user"
SURVEY_KEYS: tuple[str, ...] = ("usi_survey", "survey")
SIMULATOR_KEYS: tuple[str, ...] = ("usi_source", "simulator")
EPISODE_ID_KEYS: tuple[str, ...] = ("usi_episode_id",)
ERROR_KEYS: tuple[str, ...] = ("usi_error",)


def _simulation_at(document: Any, exc: ValidationError) -> str | None:
    """``simulation ID`` of the simulation the first validation error is in, if it is in one."""
    loc = exc.errors(include_url=False)[0].get("loc", ())
    if len(loc) < 2 or loc[0] != "simulations" or not isinstance(loc[1], int):
        return None
    raw = document.get("simulations", []) if isinstance(document, dict) else []
    item = raw[loc[1]] if loc[1] < len(raw) else None
    name = item.get("id") if isinstance(item, dict) else None
    return f"simulation {name}" if name else f"simulation #{loc[1] + 1}"


def read_tau2_results(path: str | Path, *, document: Any = None) -> Iterator[Episode]:
    """Episodes of a ``tau2 run`` results file, one per simulation, in file order.

    ``document``: the file already decoded (format detection did it), else it is read here.
    """
    quiet_tau2()
    from tau2.data_model.simulation import Results

    p = Path(path)
    if document is None:
        document = load_json(p)
    try:
        results = Results.model_validate(document)
    except ValidationError as exc:
        problem = describe_validation_error(exc)
        raise UsiInputError(
            f"not a valid tau2 results file: {problem}", p, _simulation_at(document, exc)
        ) from None
    raw_simulations: list[Any] = document.get("simulations", [])
    info = results.info
    run_source = info.user_info.llm or DEFAULT_SOURCE
    domain = info.environment_info.domain_name
    for position, simulation in enumerate(results.simulations):
        raw = raw_simulations[position] if position < len(raw_simulations) else {}
        where = f"simulation {simulation.id}"
        source = _recorded(raw, simulation.reward_info, SIMULATOR_KEYS)
        recorded_id = _recorded(raw, simulation.reward_info, EPISODE_ID_KEYS)
        converted = from_tau(simulation.messages)
        termination = simulation.termination_reason.value
        metadata: dict[str, Any] = {
            "trial": simulation.trial,
            "seed": simulation.seed if simulation.seed is not None else info.seed,
            "termination_reason": termination,
            "termination": termination,
            "error": _recorded(raw, simulation.reward_info, ERROR_KEYS),
            ENDED_BY: converted.ended_by,
            "agent_implementation": info.agent_info.implementation,
            "agent_model": info.agent_info.llm,
            "user_implementation": info.user_info.implementation,
            "user_model": info.user_info.llm,
            "agent_cost": simulation.agent_cost,
            "user_cost": simulation.user_cost,
            "duration": simulation.duration,
            "skipped": simulation.skipped,
        }
        try:
            yield Episode(
                episode_id=str(recorded_id or simulation.id),
                source=source if isinstance(source, str) and source else run_source,
                batch=None,
                domain=domain,
                task_id=simulation.task_id,
                messages=converted.messages,
                reward=_reward(simulation.reward_info, metadata["error"]),
                survey=_survey(raw, simulation.reward_info),
                metadata=metadata,
            )
        except ValidationError as exc:
            raise UsiInputError(describe_validation_error(exc), p, where) from None


def _reward(reward_info: Any, error: Any) -> float | None:
    """τ²'s reward, unless there is none to trust: the episode failed (``usi run`` recorded an
    error) or τ²'s evaluator could not score it (``usi run`` recorded ``evaluation_error``)."""
    if reward_info is None or error:
        return None
    if isinstance(reward_info.info, dict) and reward_info.info.get("evaluation_error"):
        return None
    return float(reward_info.reward)


def _recorded(raw: Any, reward_info: Any, keys: tuple[str, ...]) -> Any:
    """A value ``usi run`` recorded: in ``reward_info.info`` or on the simulation itself."""
    places: list[dict[str, Any]] = []
    if reward_info is not None and isinstance(reward_info.info, dict):
        places.append(reward_info.info)
    if isinstance(raw, dict):
        places.append(raw)
    for place in places:
        for key in keys:
            if place.get(key) is not None:
                return place[key]
    return None


def _survey(raw: Any, reward_info: Any) -> dict[str, str] | None:
    """The simulator's survey answers, wherever ``usi run`` put them (see module doc)."""
    survey = _recorded(raw, reward_info, SURVEY_KEYS)
    if isinstance(survey, dict):
        return {str(k): v for k, v in survey.items() if v is not None}
    return None


@dataclass(frozen=True)
class RunInfo:
    """What a τ² results file says about the run that made its simulations."""

    domain: str
    seed: int
    max_steps: int
    max_errors: int
    user_implementation: str
    user_llm: str | None
    agent_llm: str | None
    user_args: dict[str, Any] = field(default_factory=dict)
    agent_args: dict[str, Any] = field(default_factory=dict)


def _simulation(episode: Episode) -> Any:
    """The τ² ``SimulationRun`` of one ``usi run`` episode; the survey, source, id and error
    go into ``reward_info.info`` under the keys :func:`read_tau2_results` reads back."""
    from tau2.data_model.simulation import RewardInfo, SimulationRun

    meta = episode.metadata
    messages = to_tau(episode.messages, meta.get(ENDED_BY))
    reward_info = RewardInfo.model_validate(
        meta.get("reward_info") or {"reward": episode.reward or 0.0}
    )
    reward_info.info = {
        **(reward_info.info or {}),
        SURVEY_KEYS[0]: episode.survey,
        SIMULATOR_KEYS[0]: episode.source,
        EPISODE_ID_KEYS[0]: episode.episode_id,
        ERROR_KEYS[0]: meta.get("error"),
    }
    cost = meta.get("cost") or {}
    return SimulationRun(
        id=str(meta.get("tau2_simulation_id") or episode.episode_id),
        task_id=str(episode.task_id),
        start_time=str(meta.get("start_time") or ""),
        end_time=str(meta.get("end_time") or ""),
        duration=float(meta.get("duration_s") or 0.0),
        termination_reason=meta.get("termination_reason") or "agent_error",
        agent_cost=cost.get("agent"),
        user_cost=cost.get("user"),
        reward_info=reward_info,
        messages=messages,
        trial=meta.get("trial"),
        seed=meta.get("seed"),
    )


def tau2_results_json(episodes: Iterable[Episode], run: RunInfo) -> str:
    """The episodes of ``run.domain`` on τ² tasks as a τ² ``Results`` document (JSON text,
    indented as τ² writes it); episodes of another domain or task set are left out."""
    from tau2.data_model.simulation import AgentInfo, Info, Results, UserInfo
    from tau2.registry import registry

    tasks = domain_tasks(run.domain)
    simulations = [
        _simulation(episode)
        for episode in episodes
        if episode.domain == run.domain and episode.task_id in tasks
    ]
    used = sorted({s.task_id for s in simulations}, key=lambda t: (len(t), t))
    environment = registry.get_env_constructor(run.domain)()
    info = Info(
        git_commit="",
        num_trials=max((int(s.trial or 0) for s in simulations), default=0) + 1,
        max_steps=run.max_steps,
        max_errors=run.max_errors,
        user_info=UserInfo(
            implementation=run.user_implementation, llm=run.user_llm, llm_args=run.user_args
        ),
        agent_info=AgentInfo(
            implementation="llm_agent", llm=run.agent_llm, llm_args=run.agent_args
        ),
        environment_info=environment.get_info(),
        seed=run.seed,
    )
    results = Results(info=info, tasks=[tasks[t] for t in used], simulations=simulations)
    return results.model_dump_json(indent=2)
