"""``--judge-model``: an LLM's verdict on how faithfully the user followed its instruction.

The same judge as the study's quality control (:func:`usi.llm.quality.judge_quality`: the
same prompt, the same 0–100 score with reasoning, the same model path through
``usi.llm.models.completion_kwargs`` with ``role="quality"``, so ``offline/…`` judges are
scripted by usi's offline server). The card it reads is the study's instruction card of the
τ² task (:func:`usi.tau.cards.task_card`), or the card the episode carries; an episode with
neither gets no verdict and says so.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from usi.audit.models import EpisodeAudit, JudgeVerdict
from usi.audit.tasks import task_facts
from usi.core.episode import Episode
from usi.errors import UsiInputError

#: Judge calls in flight at once (each is one HTTP request to the model).
JUDGE_CONCURRENCY = 8


def check_judge_model(model: str) -> None:
    """Bad model strings are bad input, reported before any episode is read."""
    from usi.llm.models import validate_model

    validate_model(model, where="--judge-model")
    if not model.strip():
        raise UsiInputError("empty model string", where="--judge-model")


def _card(episode: Episode) -> str | None:
    card = episode.metadata.get("instruction")
    if isinstance(card, str) and card.strip():
        return card
    if episode.task_id is not None and task_facts(episode.domain, episode.task_id) is not None:
        from usi.tau.cards import task_card

        return task_card(episode.domain, episode.task_id).as_text()
    return None


def quality_verdict(episode: Episode, model: str, base_url: str | None = None) -> JudgeVerdict:
    """One verdict; a judge that fails or answers nonsense is recorded, not raised."""
    from usi.llm.quality import judge_quality

    card = _card(episode)
    if card is None:
        return JudgeVerdict(model=model, error="no aligned task and no instruction card")
    turns = [
        (m.role, m.content)
        for m in episode.messages
        if m.role in ("user", "assistant") and m.content.strip()
    ]
    try:
        verdict = judge_quality(card, turns, model, base_url=base_url)
    except Exception as exc:  # the judge's failure is reported on the episode, not fatal
        return JudgeVerdict(model=model, error=f"{type(exc).__name__}: {exc}"[:300])
    return JudgeVerdict(model=model, score=verdict.score, reasoning=verdict.reasoning)


def add_verdicts(
    pairs: list[tuple[Episode, EpisodeAudit]], model: str, base_url: str | None = None
) -> None:
    """Judge every episode (concurrently) and attach the verdict to its audit."""

    def one(pair: tuple[Episode, EpisodeAudit]) -> Any:
        pair[1].judge = quality_verdict(pair[0], model, base_url)

    with ThreadPoolExecutor(max_workers=JUDGE_CONCURRENCY) as pool:
        list(pool.map(one, pairs))
