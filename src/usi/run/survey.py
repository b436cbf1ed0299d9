"""The post-episode survey (spec §5) put to a simulator — or to a judge reading a conversation.

The prompt lists every item with its options verbatim and asks for one JSON object, because
scoring depends on the exact labels. Answers are matched leniently (case, a unique prefix such
as "4" for "4 (Good)") but never guessed: an item still invalid after the retries is recorded
as missing, with the raw text kept in the episode's metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from usi.core.episode import Message, is_user_content
from usi.core.survey import FREE_TEXT_IDS, FREE_TEXT_ITEMS, ITEMS_BY_ID, SURVEY_ITEMS
from usi.llm.reply import ReplyError
from usi.llm.reply import parse_reply as parse_reply_json

FREE_IDS = frozenset(FREE_TEXT_IDS)

SURVEY_RETRIES = 2  # re-asks after the first answer, for items that were invalid

_SPEAKERS = {"user": "YOU", "assistant": "AGENT"}


def transcript(messages: list[Message], *, you: str = "YOU") -> str:
    """The conversation as the user saw it: user and agent text turns, tool traffic left out."""
    lines = []
    for message in messages:
        if message.role == "tool" or not message.content.strip():
            continue
        if message.role == "user" and not is_user_content(message.content):
            continue  # the study's control lines are not part of the conversation
        speaker = you if message.role == "user" else "AGENT"
        lines.append(f"{speaker}: {' '.join(message.content.split())}")
    return "\n".join(lines)


def instrument_text() -> str:
    """The 8 scaled items with their options, then the two free-text items."""
    lines = []
    for item in SURVEY_ITEMS:
        options = " | ".join(f'"{o}"' for o in item.options)
        lines.append(f"- {item.id}: {item.question} Options: {options}")
    for free in FREE_TEXT_ITEMS:
        lines.append(f"- {free.id}: {free.question} (free text, one or two sentences)")
    return "\n".join(lines)


def survey_prompt(conversation: str, *, as_judge: bool = False) -> str:
    """The request that follows the conversation."""
    who = (
        "Read the conversation below between a customer (YOU) and a customer-service agent "
        "(AGENT), and answer as if you had been that customer."
        if as_judge
        else "The conversation is over. Here is the conversation you just had with the "
        "customer-service agent (YOU is you, AGENT is the agent)."
    )
    keys = ", ".join(f'"{item.id}": "<option>"' for item in SURVEY_ITEMS)
    return (
        f"{who}\n\n<conversation>\n{conversation}\n</conversation>\n\n"
        "Now answer this post-interaction survey about the agent, as the customer:\n"
        f"{instrument_text()}\n\n"
        "Reply with only one JSON object, each scaled answer copied exactly from its options: "
        f'{{{keys}, "specific_examples": "...", "improvement_suggestions": "..."}}'
    )


class SurveyReply(BaseModel):
    """A reply object that answers the survey: any JSON object naming at least one item.

    The values are matched to the options afterwards (:func:`match_option`), leniently, so
    the model only decides *which* object of the reply is the answer.
    """

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _names_an_item(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(
            key in ITEMS_BY_ID or key in FREE_IDS for key in data
        ):
            raise ValueError("names no survey item")
        return data


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        reply = parse_reply_json(text, SurveyReply)
    except ReplyError:
        return None
    return dict(reply.model_extra or {})


def match_option(item_id: str, answer: Any) -> str | None:
    """The option label ``answer`` names, or None: exact, case-blind, or a unique prefix."""
    if not isinstance(answer, str | int | float) or isinstance(answer, bool):
        return None
    options = ITEMS_BY_ID[item_id].options
    text = " ".join(str(answer).split()).strip().strip('"').strip()
    if not text:
        return None
    for option in options:
        if text.lower() == option.lower():
            return option
    starts = [o for o in options if o.lower().startswith(text.lower())]
    if len(starts) == 1:
        return starts[0]
    # "Yes - Task completed." or "4 (Good) - because …": an option followed by more words.
    longer = [o for o in options if text.lower().startswith(o.lower())]
    return max(longer, key=len) if longer else None


@dataclass
class SurveyOutcome:
    """Valid answers, the items left missing, and every raw reply (for the metadata)."""

    answers: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    error: str | None = None

    def metadata(self) -> dict[str, Any]:
        return {"missing": self.missing, "raw": self.raw, "error": self.error}


def parse_reply(text: str, outcome: SurveyOutcome) -> list[str]:
    """Merge the valid answers of ``text``; return the scaled items still missing."""
    data = _json_object(text) or {}
    for item in SURVEY_ITEMS:
        if item.id in outcome.answers:
            continue
        label = match_option(item.id, data.get(item.id))
        if label is not None:
            outcome.answers[item.id] = label
    for free in FREE_TEXT_ITEMS:
        value = data.get(free.id)
        if free.id not in outcome.answers and isinstance(value, str) and value.strip():
            outcome.answers[free.id] = value.strip()
    return [item.id for item in SURVEY_ITEMS if item.id not in outcome.answers]


def ask_survey(
    ask: Callable[[list[dict[str, str]]], str],
    system_prompt: str | None,
    prompt: str,
    retries: int = SURVEY_RETRIES,
    history: Sequence[dict[str, str]] = (),
) -> SurveyOutcome:
    """Put the survey to a model (``ask``: chat → reply text), re-asking for invalid items.

    ``history``: chat messages between the system prompt and the survey request (the
    conversation itself, when the survey is asked in the simulator's own chat).
    """
    outcome = SurveyOutcome()
    chat: list[dict[str, str]] = []
    if system_prompt:
        chat.append({"role": "system", "content": system_prompt})
    chat.extend(history)
    chat.append({"role": "user", "content": prompt})
    missing = [item.id for item in SURVEY_ITEMS]
    for _attempt in range(retries + 1):
        try:
            reply = ask(chat)
        except Exception as exc:  # a failed survey must not lose the episode
            outcome.error = f"{type(exc).__name__}: {exc}"
            break
        outcome.raw.append(reply)
        missing = parse_reply(reply, outcome)
        if not missing:
            break
        chat = [
            *chat,
            {"role": "assistant", "content": reply},
            {
                "role": "user",
                "content": "These answers were missing or not one of the listed options: "
                + ", ".join(missing)
                + ". Reply again with only the JSON object, copying each option exactly.",
            },
        ]
    outcome.missing = missing
    return outcome


def litellm_asker(
    kwargs: dict[str, Any], usage: dict[str, int] | None = None
) -> Callable[[list[dict[str, str]]], str]:
    """An ``ask`` calling ``litellm.completion(**kwargs)``; adds its tokens to ``usage``."""

    def ask(chat: list[dict[str, str]]) -> str:
        import litellm

        response = litellm.completion(messages=chat, **kwargs)
        counted = getattr(response, "usage", None)
        if usage is not None and counted is not None:
            usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + int(counted.prompt_tokens or 0)
            usage["completion_tokens"] = usage.get("completion_tokens", 0) + int(
                counted.completion_tokens or 0
            )
        return str(response.choices[0].message.content or "")

    return ask
