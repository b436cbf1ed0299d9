"""``usi judge``: a model reads existing conversations as if it had been the user and answers
the same survey (the paper had GPT-5.1 rate all 495 human sessions).

The judge's answers go beside the original ones — ``metadata.judge_survey`` (item id → option
label, the 8 scaled items) — so score/report can compare them with the participants' own
answers on the very same conversations. Output, concurrency and resume work as in ``usi run``:
one line appended per judged episode; ``--resume`` skips episode ids already judged in OUT.

A judgment that produced no answer at all (the model failed, or its reply held no survey
item) is not a judged episode: it is written with ``metadata.judge.error`` and no
``judge_survey``, counted as failed, and judged again by ``--resume``. Episodes whose own run
failed (``metadata.error``) have no conversation to judge and are left out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from pydantic.dataclasses import dataclass

from usi.core.episode import Episode
from usi.core.survey import FREE_TEXT_IDS, SURVEY_ITEM_IDS
from usi.data.io import append_line, episode_line
from usi.data.readers import read_episodes
from usi.errors import UsiInputError
from usi.llm.models import completion_kwargs
from usi.outputs import check_output_file
from usi.run import defaults
from usi.run.episode import MaxTokens, Retries, Temperature, Timeout, package_versions
from usi.run.outfile import RunInterrupted, finished_lines, hold, keep_only, whole_lines
from usi.run.survey import SURVEY_RETRIES, ask_survey, litellm_asker, survey_prompt, transcript

JUDGE_SYSTEM_PROMPT = (
    "You are a customer who has just finished a chat with a customer-service agent. "
    "Answer the survey about the agent honestly, from the customer's point of view."
)


@dataclass
class JudgeSettings:
    """The judge's model and call settings: a run's role, with the same checks and defaults."""

    model: str
    base_url: str | None = None
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    num_retries: Retries = defaults.NUM_RETRIES
    timeout_s: Timeout = defaults.TIMEOUT_S
    survey_retries: int = SURVEY_RETRIES


def judge_episode(episode: Episode, settings: JudgeSettings) -> Episode:
    """``episode`` with the judge's survey answers added to its metadata."""
    task = (episode.domain, episode.task_id) if episode.task_id is not None else None
    kwargs = completion_kwargs(settings.model, base_url=settings.base_url, task=task, role="judge")
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        kwargs["max_tokens"] = settings.max_tokens
    kwargs.update(num_retries=settings.num_retries, timeout=settings.timeout_s)
    usage: dict[str, int] = {}
    outcome = ask_survey(
        litellm_asker(kwargs, usage),
        JUDGE_SYSTEM_PROMPT,
        survey_prompt(transcript(episode.messages), as_judge=True),
        retries=settings.survey_retries,
    )
    metadata = dict(episode.metadata)
    scaled = {k: v for k, v in outcome.answers.items() if k in SURVEY_ITEM_IDS}
    metadata.pop("judge_survey", None)
    if scaled:
        metadata["judge_survey"] = scaled
    metadata["judge"] = {
        "model": settings.model,
        "temperature": settings.temperature,
        "free_text": {k: v for k, v in outcome.answers.items() if k in FREE_TEXT_IDS},
        "tokens": usage,
        "versions": package_versions(),
        **outcome.metadata(),
    }
    if not scaled:
        metadata["judge"]["error"] = outcome.error or "the judge's reply held no survey answer"
    return episode.model_copy(update={"metadata": metadata})


def judge_error(episode: Episode) -> str | None:
    """Why the judgment of ``episode`` failed (None when it was judged)."""
    judge = episode.metadata.get("judge")
    return str(judge["error"]) if isinstance(judge, dict) and judge.get("error") else None


@dataclass
class JudgeSummary:
    """What ``usi judge`` did; the CLI prints it (and exits 1 when every judgment failed)."""

    out: Path
    judged: int = 0
    failed: int = 0
    skipped: int = 0
    left_out: int = 0  # input episodes whose own run failed: nothing to judge
    first_error: str | None = None

    @property
    def all_failed(self) -> bool:
        return self.failed > 0 and self.judged == 0

    def line(self, model: str) -> str:
        text = f"{self.judged} episode(s) judged by {model}, {self.skipped} already done"
        if self.failed:
            text += f", {self.failed} failed (first error: {self.first_error})"
        if self.left_out:
            text += f", {self.left_out} left out (their run failed)"
        return f"{text} → {self.out}"


def judge_file(
    episodes_path: str | Path,
    out: str | Path,
    settings: JudgeSettings,
    *,
    concurrency: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_episode: Callable[[Episode], None] | None = None,
) -> JudgeSummary:
    """Judge every episode of ``episodes_path`` (any format) into ``out``."""
    out_path = Path(out)
    check_output_file(out_path, overwrite=overwrite, resume=resume, create_parent=True)
    episodes = read_episodes(episodes_path)
    if resume and overwrite:
        raise UsiInputError("--resume continues OUT and --overwrite replaces it: give one")
    if concurrency < 1:
        raise UsiInputError("--concurrency must be at least 1")
    with hold(out_path):  # one writer per OUT, as for usi run
        return _judge_locked(
            episodes, out_path, settings, concurrency, resume, overwrite, progress, on_episode
        )


def _judge_locked(
    episodes: list[Episode],
    out_path: Path,
    settings: JudgeSettings,
    concurrency: int,
    resume: bool,
    overwrite: bool,
    progress: bool,
    on_episode: Callable[[Episode], None] | None,
) -> JudgeSummary:
    """:func:`judge_file` once OUT is this command's alone."""
    records, torn = finished_lines(out_path) if resume else ([], False)
    for done_episode, _ in records:
        judge = done_episode.metadata.get("judge")
        then = judge.get("model") if isinstance(judge, dict) else None
        if then != settings.model:
            raise UsiInputError(
                f"holds episodes judged by {then!r}, this judge is {settings.model!r} "
                "(cannot resume; use another -o)",
                out_path,
                done_episode.episode_id,
            )
    good = [(e, line) for e, line in records if judge_error(e) is None]
    keep_only(out_path, records, good, torn)  # failed judgments are judged again
    if overwrite and out_path.exists():
        out_path.unlink()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done_ids = {e.episode_id for e, _ in good}
    summary = JudgeSummary(out=out_path, skipped=len(done_ids & {e.episode_id for e in episodes}))
    runnable = [e for e in episodes if e.infrastructure_error is None]
    summary.left_out = len(episodes) - len(runnable)
    todo = [e for e in runnable if e.episode_id not in done_ids]
    lock = threading.Lock()
    bar: Any = None
    if progress:
        from rich.console import Console
        from rich.progress import Progress

        from usi.layout import progress_columns

        console = Console(stderr=True)
        bar = Progress(
            *progress_columns(console.width, stats=False),
            console=console,
            disable=not console.is_terminal,
        )
        bar.start()
        task_id = bar.add_task(f"judge · {settings.model}", total=len(todo))
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="usi-judge") as pool:
            futures = [pool.submit(judge_episode, e, settings) for e in todo]
            try:
                for future in as_completed(futures):
                    judged = future.result()
                    error = judge_error(judged)
                    with lock:
                        append_line(out_path, episode_line(judged))
                        if error is None:
                            summary.judged += 1
                        else:
                            summary.failed += 1
                            summary.first_error = summary.first_error or error
                    if bar is not None:
                        bar.update(task_id, advance=1)
                    if on_episode is not None:
                        on_episode(judged)
            except BaseException:
                for future in futures:  # the pool would otherwise judge every queued episode
                    future.cancel()
                raise
    except KeyboardInterrupt:
        raise RunInterrupted(whole_lines(out_path), out_path) from None  # OUT is the truth
    finally:
        if bar is not None:
            bar.stop()
    return summary
