"""Many episodes into one file: the plan, resume, Ctrl-C, and the τ² results file beside OUT.

Each finished episode is appended to OUT as one line (:mod:`usi.run.outfile`, shared with
``usi judge``), so a killed run loses only the episodes in flight; ``resume`` reads OUT back,
refuses a file written with other settings (:func:`check_resumable`), drops a torn last line
and the episodes that failed (they run again), and skips the (task, trial) pairs already
done. The episodes run on a backend (:mod:`usi.run.backends`: threads, processes or Ray, with
identical output) while :mod:`usi.run.progress` shows how far the run is; only this process
ever writes OUT. At the end (or on Ctrl-C, or when workers die) OUT is also written as a τ²
results file (:func:`write_tau2_results`), and :mod:`usi.run.summary` says what was done.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from usi.core.episode import Episode
from usi.data.io import append_line, atomic_writer, episode_line
from usi.errors import UsiInputError
from usi.outputs import check_output_file
from usi.run.backends import (
    BACKENDS,
    EpisodeJob,
    WorkersLost,
    resolve_backend,
    run_processes,
    run_ray,
    run_threads,
)
from usi.run.episode import RunSettings, run_tasks, trial_seeds
from usi.run.outfile import (
    Record,
    RunInterrupted,
    finished_lines,
    hold,
    keep_only,
    read_finished,
    whole_lines,
)
from usi.run.progress import RunProgress
from usi.run.summary import RunSummary
from usi.tau.results import RunInfo, tau2_results_json


class RunStopped(Exception):
    """The run could not go on (its workers died): what OUT safely holds, for one line."""

    def __init__(self, reason: str, written: int, out: Path, tau2_results: Path | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.written = written
        self.out = out
        self.tau2_results = tau2_results


@contextlib.contextmanager
def _interrupted(
    settings: RunSettings, summary: RunSummary, lock: threading.Lock
) -> Iterator[None]:
    """Ctrl-C: every finished episode is already a whole line of OUT; the τ² file gets them
    too, and :class:`RunInterrupted` carries the count to the CLI's one-line hint."""
    try:
        yield
    except KeyboardInterrupt:
        # Counted from OUT, not from the summary: Ctrl-C can land between a line's write and
        # its count (a signal interrupts the main thread anywhere), and OUT is what --resume
        # will read. A torn last line (no newline yet) is not an episode.
        with lock:
            safe = whole_lines(summary.out)
        tau2 = summary.tau2_results
        try:
            write_tau2_results(settings, summary.out, tau2)
        except Exception:
            tau2 = None
        raise RunInterrupted(safe, summary.out, tau2) from None


def tau2_results_path(out: Path) -> Path:
    """The τ²-compatible results file written beside OUT."""
    return out.with_suffix(".tau2.json")


def _first_of_each(
    records: list[Record],
) -> list[Record]:
    """The first line of each (domain, task, trial): a file written by two overlapping runs
    before OUT was locked holds some episodes twice, which ``usi score`` refuses and a
    resume used to keep ("already done")."""
    seen: set[tuple[str, str | None, Any]] = set()
    first = []
    for episode, line in records:
        key = (episode.domain, episode.task_id, episode.metadata.get("trial"))
        if key not in seen:
            seen.add(key)
            first.append((episode, line))
    return first


# The settings a resumed run must share with the file (paths into ``RunSettings.recorded()``):
# what decides an episode's behaviour. Retries, timeouts and base URLs may change.
RESUME_SETTINGS: tuple[tuple[str, ...], ...] = (
    ("domain",),
    ("seed",),
    ("agent", "model"),
    ("agent", "temperature"),
    ("agent", "seed"),
    ("user", "model"),
    ("user", "temperature"),
    ("user", "seed"),
    ("simulator", "kind"),
    ("simulator", "plugin"),
    ("simulator", "user_prompt_sha256"),
    ("simulator", "persona_sha256"),
    ("protocol",),
    ("instructions", "sha256"),
)
# What a file written before a setting existed means by its absence.
_RESUME_DEFAULTS: dict[tuple[str, ...], Any] = {("protocol",): "tau2"}


def _setting(recorded: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        recorded = recorded.get(key) if isinstance(recorded, dict) else None
    return recorded


def check_resumable(settings: RunSettings, episodes: list[Episode], out: Path) -> None:
    """Refuse to append this run to a file written by another run (exit 2, nothing written).

    Every episode in OUT must come from ``usi run`` with the same source and the same
    :data:`RESUME_SETTINGS`; otherwise resuming would mix two simulators, or a simulator and
    people, in one file.
    """
    now = settings.recorded()
    for number, episode in enumerate(episodes, start=1):
        where = f"episode {number} ({episode.episode_id})"
        if episode.source != settings.source:
            raise UsiInputError(
                f"holds episodes of source {episode.source!r}, this run's is "
                f"{settings.source!r} (cannot resume; use another -o)",
                out,
                where,
            )
        recorded = episode.metadata.get("settings")
        if not isinstance(recorded, dict):
            raise UsiInputError(
                "holds episodes not written by usi run (cannot resume; use another -o)", out, where
            )
        for path in RESUME_SETTINGS:
            then, wanted = _setting(recorded, path), _setting(now, path)
            if then is None:
                then = _RESUME_DEFAULTS.get(path)
            if then != wanted:
                name = ".".join(path).replace("_sha256", " file")
                raise UsiInputError(
                    f"written with other settings ({name}: {then!r} in the file, {wanted!r} "
                    "now); resume with the same settings, or use another -o",
                    out,
                    where,
                )


def plan_jobs(settings: RunSettings, task_ids: list[str], trials: int) -> list[EpisodeJob]:
    seeds = trial_seeds(settings.seed, trials)
    return [EpisodeJob(t, trial, seeds[trial]) for trial in range(trials) for t in task_ids]


def run_episodes(
    settings: RunSettings,
    out: str | Path,
    *,
    task_ids: list[str] | None = None,
    split: str | None = None,
    trials: int = 1,
    concurrency: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    backend: str = "thread",
    ray_address: str | None = None,
    workers: int | None = None,
    on_episode: Callable[[Episode], None] | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run ``trials`` episodes of each task, appending each to ``out`` as it finishes.

    ``backend="auto"`` (the CLI's default) uses worker processes from
    :data:`AUTO_PROCESS_CONCURRENCY` episodes in flight; it is not this function's default
    because spawned workers re-import the calling script, which then needs the usual
    ``if __name__ == "__main__":`` guard. ``workers``: processes of the process backend (one
    per core by default; fewer leaves cores to other work).
    """
    out_path = Path(out)
    if backend not in BACKENDS:
        raise UsiInputError(
            f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})", where="--backend"
        )
    if trials < 1 or concurrency < 1:
        raise UsiInputError("--trials and --concurrency must be at least 1")
    if workers is not None and workers < 1:
        raise UsiInputError("--workers must be at least 1")
    selected = run_tasks(settings, task_ids, split)
    if resume and overwrite:
        raise UsiInputError("--resume continues OUT and --overwrite replaces it: give one")
    check_output_file(out_path, overwrite=overwrite, resume=resume, create_parent=True)
    with hold(out_path):
        return _run_locked(
            settings,
            out_path,
            selected,
            trials=trials,
            concurrency=concurrency,
            resume=resume,
            overwrite=overwrite,
            backend=backend,
            ray_address=ray_address,
            workers=workers,
            on_episode=on_episode,
            progress=progress,
        )


def _run_locked(
    settings: RunSettings,
    out_path: Path,
    selected: list[str],
    *,
    trials: int,
    concurrency: int,
    resume: bool,
    overwrite: bool,
    backend: str,
    ray_address: str | None,
    workers: int | None,
    on_episode: Callable[[Episode], None] | None,
    progress: bool,
) -> RunSummary:
    """:func:`run_episodes` once OUT is this run's alone (read for resume, then appended)."""
    records, torn = finished_lines(out_path) if resume else ([], False)
    check_resumable(settings, [episode for episode, _ in records], out_path)
    ran = [(e, line) for e, line in records if e.infrastructure_error is None]
    good = _first_of_each(ran)
    keep_only(out_path, records, good, torn)  # failed episodes run again
    if overwrite and out_path.exists():
        out_path.unlink()
    finished_keys = {(e.domain, e.task_id, e.metadata.get("trial")) for e, _ in good}
    jobs = [
        j
        for j in plan_jobs(settings, selected, trials)
        if (settings.domain, j.task_id, j.trial) not in finished_keys
    ]
    summary = RunSummary(
        out=out_path,
        tau2_results=tau2_results_path(out_path),
        planned=len(jobs) + len(finished_keys),
        skipped=len(finished_keys),
        rerun=len(records) - len(ran),
        dropped_duplicates=len(ran) - len(good),
        dropped_torn_line=torn,
        backend=resolve_backend(backend, concurrency, len(jobs)),
    )
    lock = threading.Lock()

    def record(episode: Episode, line: str | None) -> None:
        with lock:
            append_line(out_path, line if line is not None else episode_line(episode))
            summary.finished += 1
            error = episode.infrastructure_error
            if error:
                summary.errors += 1
                summary.first_error = summary.first_error or str(error)
            if episode.reward is not None:
                summary.rewards.append(episode.reward)
        if on_episode is not None:
            on_episode(episode)

    with (
        _interrupted(settings, summary, lock),
        RunProgress(len(jobs), settings, enabled=progress) as advance,
    ):

        def finished(episode: Episode, line: str | None) -> None:
            """``line``: the episode as a worker already serialised it, appended as it is."""
            record(episode, line)
            advance(episode)

        if summary.backend == "ray":
            run_ray(settings, jobs, concurrency, ray_address, finished)
        elif summary.backend == "process":
            try:
                run_processes(settings, jobs, concurrency, finished, workers)
            except WorkersLost as exc:
                # Every finished episode is a whole line of OUT: say so, write the τ² file
                # of those, and let --resume run the rest (was: a RuntimeError traceback).
                with lock:
                    safe = whole_lines(out_path)
                write_tau2_results(settings, out_path, summary.tau2_results)
                raise RunStopped(str(exc), safe, out_path, summary.tau2_results) from None
        else:
            run_threads(settings, jobs, concurrency, finished)
    write_tau2_results(settings, out_path, summary.tau2_results)
    return summary


def write_tau2_results(settings: RunSettings, out: Path, target: Path | None) -> None:
    """All episodes of OUT as a τ² ``Results`` file (:func:`usi.tau.results.tau2_results_json`);
    the survey in reward_info.info.usi_survey."""
    if target is None:
        return
    episodes, _ = read_finished(out, repair=False)
    run = RunInfo(
        domain=settings.domain,
        seed=settings.seed,
        max_steps=settings.max_steps,
        max_errors=settings.max_errors,
        user_implementation=f"usi:{settings.simulator.kind}",
        user_llm=settings.user.model,
        user_args=settings.user.sampling(),
        agent_llm=settings.agent.model,
        agent_args=settings.agent.sampling(),
    )
    text = tau2_results_json(episodes, run)
    with atomic_writer(target) as handle:
        handle.write(text)


def dumps_settings(settings: RunSettings) -> str:
    return json.dumps(settings.recorded(), sort_keys=True)
