"""Quality control: an LLM judge rates how faithfully a participant followed the instruction.

This is the study's ``quality_score`` (spec §8): 0–100 with reasoning; a session is kept
when the score reaches the keep threshold, unless an admin keeps or discards it by hand.
The judge is any litellm model, reached through ``usi.llm.models.completion_kwargs`` with
``role="quality"``; ``offline/…`` judges are scripted by usi's offline server
(:func:`usi.llm.offline.behaviour.quality_reply`), so tests exercise the same path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from usi.llm.models import CompletionKwargs, default_completion_kwargs

DEFAULT_KEEP_THRESHOLD = 60.0
JUDGE_MAX_TOKENS = 600

JUDGE_PROMPT = """You are checking the quality of a user study. A participant was given an \
instruction card and asked to role-play the user described on it while chatting with a \
customer-service agent. Rate how faithfully the PARTICIPANT followed the instruction \
(not how well the agent did): did they pursue the stated goal, use the given details \
(names, ids, preferences) correctly, respect the constraints, and avoid inventing facts?

Reply with JSON only: {{"score": <integer 0-100>, "reasoning": "<two or three sentences>"}}

<instruction_card>
{card}
</instruction_card>

<conversation>
{conversation}
</conversation>"""


@dataclass(frozen=True)
class QualityVerdict:
    score: float
    reasoning: str


class JudgeError(Exception):
    """The judge's reply could not be read as a score."""


def judge_messages(card: str, turns: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """The chat sent to the judge: one user message with the card and the conversation."""
    conversation = "\n".join(
        f"{'PARTICIPANT' if role == 'user' else 'AGENT'}: {text}" for role, text in turns
    )
    return [{"role": "user", "content": JUDGE_PROMPT.format(card=card, conversation=conversation)}]


def parse_verdict(text: str) -> QualityVerdict:
    """Read ``{"score": n, "reasoning": "..."}`` from the reply (code fences tolerated)."""
    from usi.llm.reply import QualityReply, ReplyError, parse_reply

    try:
        reply = parse_reply(text, QualityReply)
    except ReplyError as exc:
        raise JudgeError(f"judge reply: {exc}") from exc
    return QualityVerdict(score=reply.score, reasoning=(reply.reasoning or "").strip())


def judge_quality(
    card: str,
    turns: Sequence[tuple[str, str]],
    model: str,
    *,
    base_url: str | None = None,
    resolver: CompletionKwargs | None = None,
) -> QualityVerdict:
    """Ask ``model`` for the participant's adherence score."""
    import litellm

    resolve = resolver or default_completion_kwargs()
    kwargs = dict(resolve(model, base_url=base_url, role="quality"))
    response: Any = litellm.completion(
        messages=judge_messages(card, turns), max_tokens=JUDGE_MAX_TOKENS, **kwargs
    )
    return parse_verdict(str(response.choices[0].message.content or ""))
