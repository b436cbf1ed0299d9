"""Commands of the ``study`` capability: serve, export, loadtest."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from usi.cli.options import (
    AgentBaseUrl,
    AgentModel,
    Concurrency,
    Db,
    JudgeBaseUrl,
    JudgeModel,
    KeepThreshold,
    Output,
    Overwrite,
)
from usi.errors import UsiInputError
from usi.llm.quality import DEFAULT_KEEP_THRESHOLD
from usi.outputs import check_input_file, check_output_file
from usi.run import defaults

study_app = typer.Typer(
    name="study",
    help="The web app where real people play the user (consent, task card, chat, survey).",
    no_args_is_help=True,
)

ADMIN_TOKEN_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _domains(value: str) -> list[str]:
    from usi.tau.cards import STUDY_DOMAINS

    names = [d.strip() for d in value.split(",") if d.strip()]
    unknown = [d for d in names if d not in STUDY_DOMAINS]
    if not names or unknown:
        raise UsiInputError(
            f"unknown domains {unknown or value!r} (known: {', '.join(STUDY_DOMAINS)})",
            where="--domains",
        )
    return list(dict.fromkeys(names))


def _check_tasks_file(path: Path, domains: list[str]) -> None:
    """Every domain the task list names is one the study serves (else its ids are ignored)."""
    import json

    from usi.tau.cards import STUDY_DOMAINS

    check_input_file(path)
    try:
        chosen = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsiInputError(f"cannot read task list ({exc})", path) from None
    if not isinstance(chosen, dict) or not chosen:
        raise UsiInputError('expected {"domain": [task ids], …}', path)
    for name in chosen:
        if name not in STUDY_DOMAINS:
            raise UsiInputError(
                f"unknown domain {name!r} (known: {', '.join(STUDY_DOMAINS)})", path, name
            )
        if name not in domains:
            raise UsiInputError(
                f"domain {name!r} is not served (--domains {','.join(domains)})", path, name
            )


@study_app.command("serve")
def serve(
    db: Db = "sqlite:///study.db",
    agent_model: AgentModel = defaults.AGENT_MODEL,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    admin_token: Annotated[
        str | None,
        typer.Option("--admin-token", envvar="USI_STUDY_ADMIN_TOKEN", help="Generated if absent."),
    ] = None,
    domains: Annotated[str, typer.Option("--domains")] = "airline,retail",
    batches: Annotated[int, typer.Option("--batches", min=1, max=50)] = 3,
    tasks_file: Annotated[
        Path | None,
        typer.Option(
            "--tasks-file", help='JSON {"airline": ["0", "1"], …}; default: τ² base split.'
        ),
    ] = None,
    agent_base_url: AgentBaseUrl = None,
    judge_model: JudgeModel = None,
    judge_base_url: JudgeBaseUrl = None,
    keep_threshold: KeepThreshold = DEFAULT_KEEP_THRESHOLD,
    session_timeout: Annotated[
        float,
        typer.Option(
            "--session-timeout", min=0.05, help="Minutes before an idle session is released."
        ),
    ] = 60.0,
    completion_code: Annotated[
        str | None,
        typer.Option("--completion-code", help="Study-wide code (default: one per session)."),
    ] = None,
    completion_url: Annotated[
        str, typer.Option("--completion-url", help="Recruiter redirect; {code} is replaced.")
    ] = "https://app.prolific.com/submissions/complete?cc={code}",
    workers: Annotated[
        int, typer.Option("--agent-workers", min=1, max=64, help="Agent threads per process.")
    ] = 4,
    processes: Annotated[
        int, typer.Option("--agent-processes", min=0, max=16, help="0: in the web process.")
    ] = 1,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="Behind HTTPS.")] = False,
    agent_timeout: Annotated[
        float,
        typer.Option(
            "--agent-timeout", min=1, help="Seconds an agent turn may take before it fails."
        ),
    ] = 120.0,
    survey_timeout: Annotated[
        float,
        typer.Option("--survey-timeout", min=0.05, help="Minutes a session at the survey is held."),
    ] = 30.0,
    pid_pattern: Annotated[
        str | None,
        typer.Option(
            "--pid-pattern",
            help="Regular expression the whole recruiter id must match, or 'prolific' "
            "(24 hexadecimal characters).",
        ),
    ] = None,
    starts_per_address: Annotated[
        int,
        typer.Option(
            "--starts-per-address", min=0, help="New sessions per minute per client (0: off)."
        ),
    ] = 10,
    starts_per_minute: Annotated[
        int,
        typer.Option("--starts-per-minute", min=0, help="New sessions per minute (0: off)."),
    ] = 300,
    connections_per_address: Annotated[
        int,
        typer.Option(
            "--connections-per-address",
            min=0,
            help="Open connections one client address may hold (0: no cap; a load test "
            "from one machine needs 0).",
        ),
    ] = 64,
) -> None:
    """Serve the study (SQLite WAL by default, PostgreSQL by URL)."""
    # Everything a mistake can be in is checked before the banner and the admin token.
    import re

    from usi.checks import check_database_url, check_port
    from usi.cli.run import check_base_url
    from usi.llm.models import validate_model
    from usi.study.config import PID_PRESETS
    from usi.study.security import MIN_ADMIN_TOKEN_BITS, token_entropy_bits

    # Said first, whatever else is wrong: the token is already in the process list.
    if admin_token is not None and os.environ.get("USI_STUDY_ADMIN_TOKEN") != admin_token:
        print(
            "usi: warning: --admin-token is visible to every user in `ps`; "
            "set USI_STUDY_ADMIN_TOKEN instead",
            file=sys.stderr,
        )
    served = _domains(domains)
    validate_model(agent_model, where="--agent-model")
    if judge_model:
        validate_model(judge_model, where="--judge-model")
    if judge_base_url and not judge_model:
        raise UsiInputError("has no effect without --judge-model", where="--judge-base-url")
    if admin_token is not None:
        bits = token_entropy_bits(admin_token)
        if bits < MIN_ADMIN_TOKEN_BITS:
            raise UsiInputError(
                f"admin token too weak (≈{bits:.0f} bits, needs {MIN_ADMIN_TOKEN_BITS}); "
                + ADMIN_TOKEN_HINT,
                where="--admin-token",
            )
    if pid_pattern and pid_pattern not in PID_PRESETS:
        try:
            re.compile(pid_pattern)
        except re.error as exc:
            raise UsiInputError(f"not a regular expression ({exc})", where="--pid-pattern") from exc
    if tasks_file is not None:
        _check_tasks_file(tasks_file, served)
    check_port(host, port)
    check_database_url(db, create=True)
    check_base_url(agent_base_url, option="--agent-base-url")
    check_base_url(judge_base_url, option="--judge-base-url")

    from usi.study.app import create_app
    from usi.study.config import StudyConfig
    from usi.study.security import new_token
    from usi.study.server import run
    from usi.tau.cards import read_task_list

    token = admin_token or new_token()
    config = StudyConfig(
        db_url=db,
        agent_model=agent_model,
        tasks=read_task_list(tasks_file, served),
        batches=batches,
        agent_base_url=agent_base_url,
        judge_model=judge_model,
        judge_base_url=judge_base_url,
        admin_token=token,
        keep_threshold=keep_threshold,
        session_timeout=timedelta(minutes=session_timeout),
        completion_code=completion_code,
        completion_url=completion_url,
        agent_workers=workers,
        agent_processes=processes,
        secure_cookies=secure_cookies,
        agent_timeout=timedelta(seconds=agent_timeout),
        survey_timeout=timedelta(minutes=survey_timeout),
        pid_pattern=pid_pattern,
        starts_per_address=starts_per_address,
        starts_per_minute=starts_per_minute,
    )
    _check_live_chats(db, agent_model)
    slots = sum(len(ids) for ids in config.tasks.values()) * batches
    base = f"http://{host}:{port}"
    print(f"usi study: {slots} slots, agent {agent_model}, database {db}", file=sys.stderr)
    print(
        f"usi study: entry link {base}/start?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…",
        file=sys.stderr,
    )
    if admin_token is None:
        print(f"usi study: admin {base}/admin  token {token}", file=sys.stderr)
    else:
        print(f"usi study: admin {base}/admin", file=sys.stderr)
    app = create_app(config)
    run(app, host, port, os.environ.get("USI_STUDY_LOG", "warning"), connections_per_address)


def _check_live_chats(db_url: str, agent_model: str) -> None:
    """One line and exit 2, before the server starts, if live chats need another model
    (the app checks it again at start-up, where uvicorn would print a traceback)."""
    from sqlalchemy import inspect

    from usi.study.db import make_engine, session_factory
    from usi.study.state import check_agent_model

    engine = make_engine(db_url)
    try:
        if "sessions" in inspect(engine).get_table_names():
            check_agent_model(session_factory(engine), agent_model)
    finally:
        engine.dispose()


@study_app.command("export")
def export(
    db: Db,
    output: Output,
    kept_only: Annotated[
        bool, typer.Option("--kept-only", help="Only sessions kept by QC.")
    ] = False,
    keep_threshold: KeepThreshold = DEFAULT_KEEP_THRESHOLD,
    include_recruiter_ids: Annotated[
        bool, typer.Option("--include-recruiter-ids", help="Keep PROLIFIC_PID etc. in metadata.")
    ] = False,
    overwrite: Overwrite = False,
) -> None:
    """Write finished sessions as canonical human episodes (reward from τ²'s evaluator)."""
    from usi.checks import check_database_url

    check_output_file(output, overwrite=overwrite)
    check_database_url(db)
    from usi.study.export import export_study

    report = export_study(
        db,
        output,
        kept_only=kept_only,
        threshold=keep_threshold,
        include_recruiter_ids=include_recruiter_ids,
    )
    for line in report.lines(output, kept_only):
        print(f"usi study export: {line}", file=sys.stderr)
    print(output)  # the result on stdout; the summary above on stderr


@study_app.command("loadtest")
def loadtest(
    url: Annotated[str, typer.Option("--url", help="Base URL of a running study server.")],
    participants: Annotated[int, typer.Option("--participants", min=1)] = 50,
    concurrency: Concurrency = 20,
    turns: Annotated[int, typer.Option("--turns", min=1, max=4)] = 3,
) -> None:
    """Drive scripted participants through the whole flow; print latency and errors.

    All participants come from this machine's address: serve with --starts-per-address 0
    and --connections-per-address 0.
    """
    import asyncio

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from usi.study.loadtest import run_loadtest, summary_rows

    if concurrency < 1:
        raise UsiInputError(f"must be at least 1 (got {concurrency})", where="--concurrency")
    if not url.startswith(("http://", "https://")):
        raise UsiInputError("expected an http(s) URL", where="--url")
    _check_study_server(url)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("participants", total=participants)
        result = asyncio.run(
            run_loadtest(
                url.rstrip("/"),
                participants,
                concurrency,
                turns,
                on_done=lambda: progress.advance(bar),
            )
        )
    table = Table(title=f"usi study loadtest — {url}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in summary_rows(result):
        table.add_row(label, value)
    Console().print(table)
    for error in result.errors[:20]:
        console.print(f"error: {error}", markup=False)
    if result.errors or result.lost_messages:
        raise typer.Exit(1)


def _check_study_server(url: str) -> None:
    """A study server answers at ``url`` before any scripted participant starts."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/", timeout=5.0)
    except httpx.HTTPError as exc:
        raise UsiInputError(
            f"no study server answers at {url} ({type(exc).__name__})", where="--url"
        ) from None


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""
    app.add_typer(study_app, name="study")
