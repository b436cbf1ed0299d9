"""``usi judge``: a model reads existing conversations as if it had been the user and answers
the same survey (the paper had GPT-5.1 rate all 495 human sessions).

The judge's answers go beside the original ones — ``metadata.judge_survey`` (item id → option
label, the 8 scaled items) — so score/report can compare them with the participants' own
answers on the very same conversations. Output, concurrency and resume work as in ``usi run``:
one line appended per judged episode; ``--resume`` skips episode ids already in OUT.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from usi.data.episode import Episode
from usi.data.io import append_line, episode_line
from usi.data.readers import read_episodes
from usi.data.survey import FREE_TEXT_IDS, SURVEY_ITEM_IDS
from usi.errors import UsiInputError
from usi.outputs import check_output_file
from usi.run.episode import package_versions
from usi.run.models import completion_kwargs
from usi.run.runner import RunInterrupted, read_finished
from usi.run.survey import SURVEY_RETRIES, ask_survey, litellm_asker, survey_prompt, transcript

JUDGE_SYSTEM_PROMPT = (
    "You are a customer who has just finished a chat with a customer-service agent. "
    "Answer the survey about the agent honestly, from the customer's point of view."
)


@dataclass
class JudgeSettings:
    model: str
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    num_retries: int = 5
    timeout_s: float = 120.0
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
    metadata["judge_survey"] = {k: v for k, v in outcome.answers.items() if k in SURVEY_ITEM_IDS}
    metadata["judge"] = {
        "model": settings.model,
        "temperature": settings.temperature,
        "free_text": {k: v for k, v in outcome.answers.items() if k in FREE_TEXT_IDS},
        "tokens": usage,
        "versions": package_versions(),
        **outcome.metadata(),
    }
    return episode.model_copy(update={"metadata": metadata})


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
) -> tuple[int, int]:
    """Judge every episode of ``episodes_path`` (any format); return (judged now, skipped)."""
    out_path = Path(out)
    check_output_file(out_path, overwrite=overwrite, resume=resume, create_parent=True)
    episodes = read_episodes(episodes_path)
    if concurrency < 1:
        raise UsiInputError("--concurrency must be at least 1")
    if overwrite and not resume and out_path.exists():
        out_path.unlink()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done, _ = read_finished(out_path, repair=True) if resume else ([], False)
    done_ids = {e.episode_id for e in done}
    todo = [e for e in episodes if e.episode_id not in done_ids]
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
    written = len(done)
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="usi-judge") as pool:
            futures = [pool.submit(judge_episode, e, settings) for e in todo]
            try:
                for future in as_completed(futures):
                    judged = future.result()
                    with lock:
                        append_line(out_path, episode_line(judged))
                        written += 1
                    if bar is not None:
                        bar.update(task_id, advance=1)
                    if on_episode is not None:
                        on_episode(judged)
            except BaseException:
                for future in futures:  # the pool would otherwise judge every queued episode
                    future.cancel()
                raise
    except KeyboardInterrupt:
        raise RunInterrupted(written, out_path) from None
    finally:
        if bar is not None:
            bar.stop()
    return len(todo), len(done_ids & {e.episode_id for e in episodes})
