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

from usi.errors import UsiInputError
from usi.outputs import check_input_file, check_output_file

if TYPE_CHECKING:
    from usi.run.outfile import RunInterrupted


def _task_list(tasks: str | None) -> list[str] | None:
    if tasks is None:
        return None
    ids = [t.strip() for t in tasks.split(",") if t.strip()]
    if not ids:
        raise UsiInputError("--tasks is empty (give τ² task ids such as 0,1,2)", where="tasks")
    return ids


def check_base_url(url: str | None, option: str) -> None:
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


def check_run_flags(
    *,
    user_kind: str,
    user_plugin: str | None,
    backend: str,
    ray_address: str | None,
    workers: int | None,
) -> None:
    """A flag that has no effect in the combination given is an error, not silently ignored."""
    from usi.checks import check_ray

    if user_plugin and user_kind != "plugin":
        raise UsiInputError("has no effect without --user-kind plugin", where="--user-plugin")
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


def check_protocol_flags(
    *,
    protocol: str,
    instructions: Path | None,
    user_prompt: Path | None,
    persona: Path | None,
    split: str | None,
    max_steps: int | None,
    max_errors: int | None,
) -> None:
    """``--protocol tau-usi`` needs ``--instructions`` and fixes the simulator's prompt and the
    limits; ``--instructions`` means nothing to the tau2 protocol."""
    from usi.run.paper import PROTOCOLS, TAU_USI

    if protocol not in PROTOCOLS:
        raise UsiInputError(
            f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})", where="--protocol"
        )
    if protocol != TAU_USI:
        if instructions is not None:
            raise UsiInputError("has no effect without --protocol tau-usi", where="--instructions")
        return
    if instructions is None:
        raise UsiInputError(
            "--protocol tau-usi needs --instructions HUMAN_FILE (the study's data: the "
            "instruction each task's participants saw)",
            where="--protocol",
        )
    fixed = (
        ("--user-prompt", user_prompt, "the paper's user rules are the prompt"),
        ("--persona", persona, "the study's instruction is the whole scenario"),
        ("--split", split, "the study file decides the tasks; give --tasks to run fewer"),
        ("--max-steps", max_steps, "the paper's limits are 80 user turns and 64 tool rounds"),
        ("--max-errors", max_errors, "the paper's protocol has no error limit"),
    )
    for flag, value, why in fixed:
        if value is not None:
            raise UsiInputError(f"has no effect with --protocol tau-usi ({why})", where=flag)


def _configure_offline(latency_ms: float | None, faults: str | None) -> None:
    """Shape the offline server (before it starts) and pass the shape on to Ray workers."""
    from usi.llm.offline.server import parse_faults

    if latency_ms is not None:
        if latency_ms < 0:
            raise UsiInputError("--offline-latency-ms must be >= 0")
        os.environ["USI_OFFLINE_LATENCY_MS"] = str(latency_ms)
    if faults:
        parse_faults(faults)  # validate now
        os.environ["USI_OFFLINE_FAULTS"] = faults


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""

    @app.command("run")
    def run_command(
        domain: str = typer.Option(..., "--domain", help="τ² domain: airline or retail."),
        user_model: str = typer.Option(
            "offline/cooperative",
            "--user-model",
            help="User simulator model (litellm string or offline/…).",
        ),
        agent_model: str = typer.Option(
            "offline/oracle", "--agent-model", help="Agent model (litellm string)."
        ),
        out: Path = typer.Option(..., "-o", "--out", help="Output episodes (.jsonl)."),
        tasks: str | None = typer.Option(None, "--tasks", help="Comma-separated τ² task ids."),
        split: str | None = typer.Option(None, "--split", help="τ² split: test, train or base."),
        trials: int = typer.Option(1, "--trials", help="Episodes per task."),
        concurrency: int = typer.Option(1, "--concurrency", help="Episodes in flight at once."),
        resume: bool = typer.Option(
            False, "--resume", help="Skip (task, trial) pairs already in OUT."
        ),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
        user_base_url: str | None = typer.Option(
            None, "--user-base-url", help="OpenAI-compatible URL."
        ),
        agent_base_url: str | None = typer.Option(
            None, "--agent-base-url", help="OpenAI-compatible URL."
        ),
        user_temperature: float | None = typer.Option(None, "--user-temperature"),
        agent_temperature: float | None = typer.Option(None, "--agent-temperature"),
        user_max_tokens: int | None = typer.Option(None, "--user-max-tokens"),
        agent_max_tokens: int | None = typer.Option(None, "--agent-max-tokens"),
        user_seed: int | None = typer.Option(
            None, "--user-seed", help="Fixed user seed (+ trial)."
        ),
        agent_seed: int | None = typer.Option(
            None, "--agent-seed", help="Fixed agent seed (+ trial)."
        ),
        seed: int = typer.Option(
            300, "--seed", help="Base seed of the trial seeds (τ²'s default)."
        ),
        user_kind: str = typer.Option("prompt", "--user-kind", help="prompt, roleflip or plugin."),
        user_prompt: Path | None = typer.Option(
            None, "--user-prompt", help="Prompt file replacing τ²'s guidelines."
        ),
        persona: Path | None = typer.Option(
            None, "--persona", help="Persona file added to the scenario."
        ),
        user_plugin: str | None = typer.Option(
            None, "--user-plugin", help="package.module:Class or entry point."
        ),
        name: str | None = typer.Option(
            None, "--name", help="Simulator name recorded as the episodes' source."
        ),
        max_steps: int | None = typer.Option(
            None, "--max-steps", help="τ²'s step limit (default 100; protocol tau2)."
        ),
        max_errors: int | None = typer.Option(
            None, "--max-errors", help="τ²'s tool-error limit (default 10; protocol tau2)."
        ),
        retries: int = typer.Option(
            5, "--retries", help="Retries (with backoff) on 429/5xx/timeouts."
        ),
        timeout: float = typer.Option(120.0, "--timeout", help="Seconds per model call."),
        survey: bool = typer.Option(
            True, "--survey/--no-survey", help="Ask the simulator the survey."
        ),
        backend: str = typer.Option(
            "auto",
            "--backend",
            help="auto (process from 16 in flight on 2+ cores, else thread), thread (one "
            "process), process (one per core, threads in each) or ray.",
        ),
        ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster address."),
        workers: int | None = typer.Option(
            None, "--workers", help="Processes of the process backend (default: one per core)."
        ),
        offline_latency_ms: float | None = typer.Option(None, "--offline-latency-ms"),
        offline_faults: str | None = typer.Option(
            None, "--offline-faults", help="e.g. 429:0.1,500@3"
        ),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
        protocol: Annotated[str, typer.Option("--protocol", help=PROTOCOL_HELP)] = "tau2",
        instructions: Annotated[
            Path | None,
            typer.Option(
                "--instructions",
                help="The study's data (any format usi reads, e.g. the cache of usi data "
                "fetch): the instruction each task's participants saw. --protocol tau-usi only.",
            ),
        ] = None,
    ) -> None:
        """Benchmark a user simulator on τ² tasks: rewarded episodes and its own survey."""
        # Arguments and paths first: τ² and litellm take seconds to import.
        check_protocol_flags(
            protocol=protocol,
            instructions=instructions,
            user_prompt=user_prompt,
            persona=persona,
            split=split,
            max_steps=max_steps,
            max_errors=max_errors,
        )
        check_run_flags(
            user_kind=user_kind,
            user_plugin=user_plugin,
            backend=backend,
            ray_address=ray_address,
            workers=workers,
        )
        for path, what in (
            (user_prompt, "user prompt file"),
            (persona, "persona file"),
            (instructions, "study file"),
        ):
            if path is not None:
                check_input_file(path, what=what)
        check_output_file(out, overwrite=overwrite, resume=resume)
        from usi.llm.models import check_credentials, validate_model

        validate_model(agent_model)
        if user_model:
            validate_model(user_model)

        from usi.run.episode import RoleSettings, RunSettings, select_tasks
        from usi.run.outfile import RunInterrupted
        from usi.run.runner import RunStopped, run_episodes
        from usi.run.summary import failure_line, summary_line
        from usi.tau.simulators import (
            SIMULATOR_KINDS,
            SimulatorSpec,
            check_prompt_template,
            load_plugin,
            read_text_file,
        )

        _configure_offline(offline_latency_ms, offline_faults)
        if user_kind not in SIMULATOR_KINDS:
            raise UsiInputError(
                f"unknown --user-kind {user_kind!r} (known: {', '.join(SIMULATOR_KINDS)})"
            )
        if tasks is not None and split is not None:
            raise UsiInputError("give --tasks or --split, not both")
        select_tasks(domain, _task_list(tasks), split)
        study = None
        if instructions is not None:
            from usi.run.instructions import load_study_instructions

            study = load_study_instructions(instructions, domain)
            for task_id in _task_list(tasks) or []:
                study.task(task_id)  # each task asked for has a study instruction
            for line in study.warnings():
                typer.echo(f"usi: warning: {line}", err=True)
        user_model_used: str | None = user_model
        if user_kind == "plugin":
            if not user_plugin:
                raise UsiInputError("--user-kind plugin needs --user-plugin", where="user-plugin")
            load_plugin(user_plugin)
        check_base_url(user_base_url, "user-base-url")
        check_base_url(agent_base_url, "agent-base-url")
        check_credentials(agent_model, base_url=agent_base_url, where="agent-model")
        if user_model_used:
            check_credentials(user_model_used, base_url=user_base_url, where="user-model")
        prompt_text = read_text_file(user_prompt, "user prompt") if user_prompt else None
        if prompt_text is not None and user_prompt is not None:
            check_prompt_template(prompt_text, user_prompt)
        persona_text = read_text_file(persona, "persona") if persona else None
        settings = RunSettings(
            domain=domain,
            agent=RoleSettings(
                agent_model, agent_base_url, agent_temperature, agent_max_tokens, agent_seed
            ),
            user=RoleSettings(
                user_model_used, user_base_url, user_temperature, user_max_tokens, user_seed
            ),
            simulator=SimulatorSpec(user_kind, prompt_text, persona_text, user_plugin),
            name=name,
            seed=seed,
            max_steps=100 if max_steps is None else max_steps,
            max_errors=10 if max_errors is None else max_errors,
            num_retries=retries,
            timeout_s=timeout,
            survey=survey,
            protocol=protocol,
            study=study,
        )
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
        episodes: Path = typer.Argument(
            ..., help="Episodes to rate (canonical, tau-usi or τ² results)."
        ),
        model: str = typer.Option(
            ..., "--model", help="Judge model (litellm string or offline/…)."
        ),
        out: Path = typer.Option(
            ..., "-o", "--out", help="Output episodes with metadata.judge_survey."
        ),
        base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible URL."),
        temperature: float | None = typer.Option(None, "--temperature"),
        max_tokens: int | None = typer.Option(None, "--max-tokens"),
        concurrency: int = typer.Option(1, "--concurrency"),
        resume: bool = typer.Option(False, "--resume", help="Skip episodes already in OUT."),
        overwrite: bool = typer.Option(False, "--overwrite"),
        retries: int = typer.Option(5, "--retries"),
        timeout: float = typer.Option(120.0, "--timeout"),
        offline_latency_ms: float | None = typer.Option(None, "--offline-latency-ms"),
        offline_faults: str | None = typer.Option(None, "--offline-faults"),
        quiet: bool = typer.Option(False, "--quiet"),
    ) -> None:
        """A model rates conversations as their user would (into metadata.judge_survey)."""
        check_input_file(episodes)
        check_output_file(out, overwrite=overwrite, resume=resume)
        from usi.llm.models import check_credentials, validate_model

        validate_model(model)

        from usi.run.judge import JudgeSettings, judge_file

        _configure_offline(offline_latency_ms, offline_faults)
        check_base_url(base_url, "base-url")
        check_credentials(model, base_url=base_url, where="model")
        settings = JudgeSettings(model, base_url, temperature, max_tokens, retries, timeout)
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
