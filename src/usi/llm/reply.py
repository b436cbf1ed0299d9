"""The one reader of JSON in an LLM's reply, for every place usi asks a model for JSON.

A model asked for "only one JSON object" still wraps it in prose or code fences, writes text
after it, or puts braces inside its strings ("I said {please} twice"). Counting braces or a
greedy ``\\{.*\\}`` gets those wrong; the JSON decoder itself does not: at each ``{`` of the
reply, :meth:`json.JSONDecoder.raw_decode` reads exactly one JSON value and says where it
ends, so whatever surrounds it cannot break it. The first object that the expected pydantic
model accepts is the answer.

Used by the simulator's survey (:mod:`usi.run.survey`), ``usi judge`` (through the survey)
and the study's quality judge (:mod:`usi.llm.quality`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

M = TypeVar("M", bound=BaseModel)

_DECODER = json.JSONDecoder()


class ReplyError(ValueError):
    """The reply holds no JSON object the expected model accepts."""


def json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Every JSON object of ``text``, in order of its opening brace (nested ones included)."""
    start = text.find("{")
    while start != -1:
        try:
            value, _end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            pass
        else:
            if isinstance(value, dict):
                yield value
        start = text.find("{", start + 1)


def parse_reply(text: str | None, model: type[M]) -> M:
    """The first JSON object of ``text`` that ``model`` validates.

    Raises :class:`ReplyError` naming why: no object at all, or the first object's first
    validation error.
    """
    first_error: str | None = None
    for candidate in json_objects(text or ""):
        try:
            return model.model_validate(candidate)
        except ValidationError as exc:
            if first_error is None:
                err = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in err.get("loc", ())) or "object"
                first_error = f"{where}: {err.get('msg', 'invalid')}"
    if first_error is None:
        raise ReplyError("no JSON object in the reply")
    raise ReplyError(f"no JSON object in the reply has the expected fields ({first_error})")


class QualityReply(BaseModel):
    """What the study's quality judge answers: ``{"score": 0-100, "reasoning": "..."}``."""

    score: float = Field(ge=0.0, le=100.0)
    reasoning: str | None = None
