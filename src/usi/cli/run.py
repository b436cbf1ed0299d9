"""Commands of the ``run`` capability: ``usi run`` and ``usi judge``.

All input is validated before the first episode starts (domain, task ids, model prefixes,
credentials litellm can detect, reachable base URLs, prompt/persona files, plugin import,
a ``--resume`` file written with the same settings), so bad input costs one clear line and
exit code 2, never a half-written output. A run whose every episode failed (a provider
refusing the key, say) exits 1 with one line: it measured nothing.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from usi.cli.options import (
    AgentBaseUrl,
    AgentModel,
    BaseUrl,
    Concurrency,
    OfflineFaults,
    OfflineLatency,
    Out,
    Overwrite,
    Quiet,
    Resume,
    Retries,
    Timeout,
    UserBaseUrl,
    flag_errors,
)
from usi.errors import UsiInputError
from usi.outputs import check_input_file, check_output_file
from usi.run import defaults

if TYPE_CHECKING:
    from usi.run.outfile import RunInterrupted


def _task_list(tasks: str | None) -> list[str] | None:
    if tasks is None:
        return None
    ids = [t.strip() for t in tasks.split(",") if t.strip()]
    if not ids:
        raise UsiInputError("is empty (give τ² task ids such as 0,1,2)", where="--tasks")
    return ids


def check_base_url(url: str | None, *, option: str) -> None:
    """An OpenAI-compatible base URL must answer (any HTTP status) before a run starts."""
    if not url:
        return
    import httpx

    if not url.startswith(("http://", "https://")):
        raise UsiInputError(f"not an http(s) URL: {url!r}", where=option)
    try:
        httpx.get(url.rstrip("/") + "/models", timeout=5.0)
    except httpx.HTTPError as exc:
        raise UsiInputError(
            f"unreachable base URL {url} ({type(exc).__name__})", where=option
        ) from None


def resume_command(argv: list[str]) -> str:
    """The command line that continues an interrupted run: the same, with ``--resume``."""
    args = [a for a in argv[1:] if a != "--overwrite"]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(["usi", *args])


def interrupted(exc: RunInterrupted) -> NoReturn:
    """Ctrl-C: one line with what is safely written and how to go on; exit 130."""
    also = f" (τ² results: {exc.tau2_results})" if exc.tau2_results else ""
    typer.echo(
        f"usi: interrupted: {exc.written} episode(s) safely written to {exc.out}{also}; "
        f"continue with: {resume_command(sys.argv)}",
        err=True,
    )
    raise typer.Exit(130)


def check_run_flags(*, backend: str, ray_address: str | None, workers: int | None) -> None:
    """A flag that has no effect in the combination given is an error, not silently ignored.

    These are the runner's flags; the settings' own combinations (``--user-plugin`` without
    ``--user-kind plugin``, the paper's fixed prompt and limits, …) are
    :class:`~usi.run.episode.RunSettings`' checks."""
    from usi.checks import check_ray

    if ray_address and backend != "ray":
        raise UsiInputError("has no effect without --backend ray", where="--ray-address")
    if workers is not None and backend not in ("process", "auto"):
        raise UsiInputError(
            f"has no effect with --backend {backend} (it sizes the process backend)",
            where="--workers",
        )
    if backend == "ray":
        check_ray(ray_address)


PROTOCOL_HELP = (
    "tau2 (τ²'s scenario and user guidelines) or tau-usi (the paper's: the instruction the "
    "study's participants saw, its user rules, greeting, limits and survey)."
)


def check_protocol_flags(*, protocol: str, split: str | None) -> None:
    """``--split`` means nothing to ``--protocol tau-usi``: the study file decides the tasks.

    The protocol's other rules are on fields of :class:`~usi.run.episode.RunSettings`, which
    checks them; ``--split`` is not one (it picks the tasks, it does not decide an episode)."""
    from usi.run.paper import TAU_USI

    if protocol == TAU_USI and split is not None:
        raise UsiInputError(
            "has no effect with --protocol tau-usi (the study file decides the tasks; give "
            "--tasks to run fewer)",
            where="--split",
        )


def _configure_offline(latency_ms: float | None, faults: str | None) -> None:
    """Shape the offline server (before it starts) and pass the shape on to Ray workers."""
    from usi.llm.offline.server import parse_faults

    if latency_ms is not None:
        if latency_ms < 0:
            raise UsiInputError("must be >= 0", where="--offline-latency-ms")
        os.environ["USI_OFFLINE_LATENCY_MS"] = str(latency_ms)
    if faults:
        parse_faults(faults, where="--offline-faults")  # validate now
        os.environ["USI_OFFLINE_FAULTS"] = faults


def role_flags(role: str) -> dict[str, str]:
    """Each field of a :class:`~usi.run.episode.RoleSettings` → its flag for ``role``."""
    return {
        "model": f"--{role}-model",
        "base_url": f"--{role}-base-url",
        "temperature": f"--{role}-temperature",
        "max_tokens": f"--{role}-max-tokens",
        "seed": f"--{role}-seed",
    }


#: Each field of :class:`~usi.run.episode.RunSettings` → the flag of ``usi run`` that sets it.
RUN_FLAGS: dict[str, str] = {
    "domain": "--domain",
    "name": "--name",
    "seed": "--seed",
    "max_steps": "--max-steps",
    "max_errors": "--max-errors",
    "num_retries": "--retries",
    "timeout_s": "--timeout",
    "survey": "--survey",
    "protocol": "--protocol",
    "study": "--instructions",
    "simulator.kind": "--user-kind",
    "simulator.plugin": "--user-plugin",
    "simulator.user_prompt": "--user-prompt",
    "simulator.persona": "--persona",
    **{f"{role}.{f}": flag for role in ("agent", "user") for f, flag in role_flags(role).items()},
}
#: Each field of :class:`~usi.run.judge.JudgeSettings` → the flag of ``usi judge`` that sets it.
JUDGE_FLAGS: dict[str, str] = {
    "model": "--model",
    "base_url": "--base-url",
    "temperature": "--temperature",
    "max_tokens": "--max-tokens",
    "num_retries": "--retries",
    "timeout_s": "--timeout",
}


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""

    @app.command("run")
    def run_command(
        domain: Annotated[str, typer.Option("--domain", help="τ² domain: airline or retail.")],
        out: Out,
        user_model: Annotated[
            str,
            typer.Option(
                "--user-model", help="User simulator model (litellm string or offline/…)."
            ),
        ] = defaults.USER_MODEL,
        agent_model: AgentModel = defaults.AGENT_MODEL,
        tasks: Annotated[
            str | None, typer.Option("--tasks", help="Comma-separated τ² task ids.")
        ] = None,
        split: Annotated[
            str | None, typer.Option("--split", help="τ² split: test, train or base.")
        ] = None,
        trials: Annotated[int, typer.Option("--trials", help="Episodes per task.")] = 1,
        concurrency: Concurrency = 1,
        resume: Resume = False,
        overwrite: Overwrite = False,
        user_base_url: UserBaseUrl = None,
        agent_base_url: AgentBaseUrl = None,
        user_temperature: Annotated[float | None, typer.Option("--user-temperature")] = None,
        agent_temperature: Annotated[float | None, typer.Option("--agent-temperature")] = None,
        user_max_tokens: Annotated[int | None, typer.Option("--user-max-tokens")] = None,
        agent_max_tokens: Annotated[int | None, typer.Option("--agent-max-tokens")] = None,
        user_seed: Annotated[
            int | None, typer.Option("--user-seed", help="Fixed user seed (+ trial).")
        ] = None,
        agent_seed: Annotated[
            int | None, typer.Option("--agent-seed", help="Fixed agent seed (+ trial).")
        ] = None,
        seed: Annotated[
            int, typer.Option("--seed", help="Base seed of the trial seeds (τ²'s default).")
        ] = defaults.SEED,
        user_kind: Annotated[
            str, typer.Option("--user-kind", help="prompt, roleflip or plugin.")
        ] = "prompt",
        user_prompt: Annotated[
            Path | None,
            typer.Option("--user-prompt", help="Prompt file replacing τ²'s guidelines."),
        ] = None,
        persona: Annotated[
            Path | None, typer.Option("--persona", help="Persona file added to the scenario.")
        ] = None,
        user_plugin: Annotated[
            str | None,
            typer.Option("--user-plugin", help="package.module:Class or entry point."),
        ] = None,
        name: Annotated[
            str | None,
            typer.Option("--name", help="Simulator name recorded as the episodes' source."),
        ] = None,
        max_steps: Annotated[
            int, typer.Option("--max-steps", help="τ²'s step limit (protocol tau2).")
        ] = defaults.MAX_STEPS,
        max_errors: Annotated[
            int, typer.Option("--max-errors", help="τ²'s tool-error limit (protocol tau2).")
        ] = defaults.MAX_ERRORS,
        retries: Retries = defaults.NUM_RETRIES,
        timeout: Timeout = defaults.TIMEOUT_S,
        survey: Annotated[
            bool, typer.Option("--survey/--no-survey", help="Ask the simulator the survey.")
        ] = defaults.SURVEY,
        backend: Annotated[
            str,
            typer.Option(
                "--backend",
                help="auto (process from 16 in flight on 2+ cores, else thread), thread (one "
                "process), process (one per core, threads in each) or ray.",
            ),
        ] = "auto",
        ray_address: Annotated[
            str | None, typer.Option("--ray-address", help="Ray cluster address.")
        ] = None,
        workers: Annotated[
            int | None,
            typer.Option(
                "--workers", help="Processes of the process backend (default: one per core)."
            ),
        ] = None,
        offline_latency_ms: OfflineLatency = None,
        offline_faults: OfflineFaults = None,
        quiet: Quiet = False,
        protocol: Annotated[
            str, typer.Option("--protocol", help=PROTOCOL_HELP)
        ] = defaults.PROTOCOL,
        instructions: Annotated[
            Path | None,
            typer.Option(
                "--instructions",
                help="The study's data (any format usi reads, e.g. the cache of usi data "
                "fetch): the instruction each task's participants saw. --protocol tau-usi only.",
            ),
        ] = None,
    ) -> None:
        """Benchmark a user simulator on τ² tasks: rewarded episodes and its own survey.

        OUT (-o): the episodes, one JSON line each, appended as they finish.
        """
        # Arguments and paths first: τ² and litellm take seconds to import.
        check_protocol_flags(protocol=protocol, split=split)
        check_run_flags(backend=backend, ray_address=ray_address, workers=workers)
        for path, what in (
            (user_prompt, "user prompt file"),
            (persona, "persona file"),
            (instructions, "study file"),
        ):
            if path is not None:
                check_input_file(path, what=what)
        check_output_file(out, overwrite=overwrite, resume=resume)
        from usi.llm.models import check_credentials, validate_model
        from usi.tau.tasks import check_domain

        check_domain(domain)  # before τ² is imported: a mistyped domain answers at once
        validate_model(agent_model, where="--agent-model")
        if user_model:
            validate_model(user_model, where="--user-model")

        from usi.run.episode import RoleSettings, RunSettings, select_tasks
        from usi.run.outfile import RunInterrupted
        from usi.run.runner import RunStopped, run_episodes
        from usi.run.summary import failure_line, summary_line
        from usi.tau.simulators import (
            SimulatorSpec,
            check_prompt_template,
            load_plugin,
            read_text_file,
        )

        _configure_offline(offline_latency_ms, offline_faults)
        if tasks is not None and split is not None:
            raise UsiInputError("give --tasks or --split, not both")
        select_tasks(domain, _task_list(tasks), split)
        study = None
        if instructions is not None:
            from usi.run.instructions import load_study_instructions

            study = load_study_instructions(instructions, domain)
        prompt_text = read_text_file(user_prompt, "user prompt") if user_prompt else None
        persona_text = read_text_file(persona, "persona") if persona else None
        # Every value and combination the settings decide is checked by the model itself
        # (by keyword: a positional argument's error would be located by its index).
        with flag_errors(role_flags("agent")):
            agent = RoleSettings(
                model=agent_model,
                base_url=agent_base_url,
                temperature=agent_temperature,
                max_tokens=agent_max_tokens,
                seed=agent_seed,
            )
        with flag_errors(role_flags("user")):
            user = RoleSettings(
                model=user_model,
                base_url=user_base_url,
                temperature=user_temperature,
                max_tokens=user_max_tokens,
                seed=user_seed,
            )
        with flag_errors(RUN_FLAGS):
            settings = RunSettings(
                domain=domain,
                agent=agent,
                user=user,
                simulator=SimulatorSpec(user_kind, prompt_text, persona_text, user_plugin),
                name=name,
                seed=seed,
                max_steps=max_steps,
                max_errors=max_errors,
                num_retries=retries,
                timeout_s=timeout,
                survey=survey,
                protocol=protocol,
                study=study,
            )
        if study is not None:
            for task_id in _task_list(tasks) or []:
                study.task(task_id)  # each task asked for has a study instruction
            for line in study.warnings():
                typer.echo(f"usi: warning: {line}", err=True)
        if user_kind == "plugin" and user_plugin:
            load_plugin(user_plugin)
        check_base_url(user_base_url, option="--user-base-url")
        check_base_url(agent_base_url, option="--agent-base-url")
        check_credentials(agent_model, base_url=agent_base_url, where="--agent-model")
        if user_model:
            check_credentials(user_model, base_url=user_base_url, where="--user-model")
        if prompt_text is not None and user_prompt is not None:
            check_prompt_template(prompt_text, user_prompt)
        try:
            summary = run_episodes(
                settings,
                out,
                task_ids=_task_list(tasks),
                split=split,
                trials=trials,
                concurrency=concurrency,
                resume=resume,
                overwrite=overwrite,
                backend=backend,
                ray_address=ray_address,
                workers=workers,
                progress=not quiet,
            )
        except RunInterrupted as exc:
            interrupted(exc)
        except RunStopped as exc:
            also = f" (τ² results: {exc.tau2_results})" if exc.tau2_results else ""
            typer.echo(
                f"usi: error: {exc.reason}; {exc.written} episode(s) safely written to "
                f"{exc.out}{also}; continue with: {resume_command(sys.argv)}",
                err=True,
            )
            raise typer.Exit(1) from None
        if summary.all_failed:
            typer.echo(f"usi: error: {failure_line(summary)}", err=True)
            raise typer.Exit(1)
        typer.echo(summary_line(summary), err=True)  # the summary on stderr, the result on stdout
        typer.echo(str(out))

    @app.command("judge")
    def judge_command(
        episodes: Annotated[
            Path,
            typer.Argument(help="Episodes to rate (canonical, tau-usi or τ² results)."),
        ],
        model: Annotated[
            str, typer.Option("--model", help="Judge model (litellm string or offline/…).")
        ],
        out: Out,
        base_url: BaseUrl = None,
        temperature: Annotated[float | None, typer.Option("--temperature")] = None,
        max_tokens: Annotated[int | None, typer.Option("--max-tokens")] = None,
        concurrency: Concurrency = 1,
        resume: Resume = False,
        overwrite: Overwrite = False,
        retries: Retries = defaults.NUM_RETRIES,
        timeout: Timeout = defaults.TIMEOUT_S,
        offline_latency_ms: OfflineLatency = None,
        offline_faults: OfflineFaults = None,
        quiet: Quiet = False,
    ) -> None:
        """A model rates conversations as their user would (into metadata.judge_survey).

        OUT (-o): the episodes, each with the model's answers in metadata.judge_survey.
        """
        check_input_file(episodes)
        check_output_file(out, overwrite=overwrite, resume=resume)
        from usi.llm.models import check_credentials, validate_model

        validate_model(model)

        from usi.run.judge import JudgeSettings, judge_file

        _configure_offline(offline_latency_ms, offline_faults)
        with flag_errors(JUDGE_FLAGS):
            settings = JudgeSettings(
                model=model,
                base_url=base_url,
                temperature=temperature,
                max_tokens=max_tokens,
                num_retries=retries,
                timeout_s=timeout,
            )
        check_base_url(base_url, option="--base-url")
        check_credentials(model, base_url=base_url, where="--model")
        from usi.run.outfile import RunInterrupted

        try:
            summary = judge_file(
                episodes,
                out,
                settings,
                concurrency=concurrency,
                resume=resume,
                overwrite=overwrite,
                progress=not quiet,
            )
        except RunInterrupted as exc:
            interrupted(exc)
        if summary.all_failed:
            typer.echo(f"usi: error: {summary.line(model)}", err=True)
            raise typer.Exit(1)
        typer.echo(summary.line(model), err=True)
        typer.echo(str(out))
