"""Commands of the ``audit`` capability: ``usi audit EPISODES [--human HUMAN] [--json]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from usi.cli.options import Episodes, Json, JudgeBaseUrl, JudgeModel, OptionalHuman
from usi.errors import UsiInputError
from usi.layout import PIPE_WIDTH
from usi.outputs import check_input_file

if TYPE_CHECKING:
    from usi.audit.models import EpisodeAudit
    from usi.core.episode import Episode


def _audit_path(
    path: Path, keep_episodes: bool, humans_only: bool = False
) -> list[tuple[Episode | None, EpisodeAudit]]:
    """(episode, audit) pairs of one file; episodes kept only when a judge will read them.

    Read by the rules of ``usi score`` (:mod:`usi.inputs.sides`): failed runs are left out
    with a warning, a repeated id is an error, a task τ² does not have is unaligned.
    """
    from usi.audit.runner import audit_episode
    from usi.data.readers import iter_episodes
    from usi.inputs.sides import WARNING_PREFIX, Screening, screen_episodes

    screening = Screening(str(path))
    pairs: list[tuple[Episode | None, EpisodeAudit]] = []
    for episode in screen_episodes(iter_episodes(path), screening):
        if humans_only and not episode.is_human:
            continue
        pairs.append((episode if keep_episodes else None, audit_episode(episode)))
    if not pairs:
        if humans_only:
            raise UsiInputError('no human episodes (source "human")', path)
        raise screening.nothing_left("episodes")
    for note in screening.notes():
        typer.echo(WARNING_PREFIX + note, err=True)
    return pairs


def run_audit(
    episodes: Path,
    human: Path | None,
    as_json: bool,
    judge_model: str | None,
    judge_base_url: str | None = None,
) -> None:
    """Audit EPISODES (and the people of HUMAN); print JSON lines or the table."""
    from usi.audit.render import render_audit
    from usi.audit.runner import by_source, summarise
    from usi.audit.verdicts import add_verdicts, check_judge_model
    from usi.core.episode import HUMAN_SOURCE
    from usi.data.readers import detect_format

    check_input_file(episodes)
    if human is not None:
        check_input_file(human)
    if judge_model is not None:
        check_judge_model(judge_model)
    detect_format(episodes)
    separate_human = human is not None and human.resolve() != episodes.resolve()
    if human is not None:
        detect_format(human)
    keep = judge_model is not None
    pairs = _audit_path(episodes, keep)
    human_pairs = _audit_path(human, keep, humans_only=True) if separate_human and human else []
    if judge_model is not None:
        add_verdicts(
            [(e, a) for e, a in [*pairs, *human_pairs] if e is not None],
            judge_model,
            judge_base_url,
        )
    audits = [a for _, a in pairs]
    baseline = [a for _, a in human_pairs]
    if as_json:
        out = sys.stdout
        for audit in [*audits, *baseline]:
            record = audit.model_dump(exclude={"judge"} if audit.judge is None else set())
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        return
    sides = {source: summarise(group, source) for source, group in by_source(audits).items()}
    if baseline:
        label = HUMAN_SOURCE if HUMAN_SOURCE not in sides else f"{HUMAN_SOURCE} (--human)"
        sides[label] = summarise(baseline, label)
    console = Console()
    if not console.is_terminal:
        console = Console(width=PIPE_WIDTH)
    render_audit(sides, console)


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""

    @app.command("audit")
    def audit_command(
        episodes: Episodes,
        human: OptionalHuman = None,
        as_json: Json = False,
        judge_model: JudgeModel = None,
        judge_base_url: JudgeBaseUrl = None,
    ) -> None:
        """The simulator's own mistakes: premature stops, invented ids, leaked instructions,
        role confusion, loops, empty turns — and the agent failures they cause.

        --json: one JSON object per episode, {"episode_id", "source", "task_id", "reward",
        "errors": [{"kind", "turn", "evidence"}], "skipped"}.
        """
        run_audit(episodes, human, as_json, judge_model, judge_base_url)
