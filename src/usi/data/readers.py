"""Read episodes from any of the three formats, detected from the content, not the name.

- canonical JSON Lines (:mod:`usi.data.episode`),
- the tau-usi human-study JSON (spec §8, :mod:`usi.data.tau_usi`),
- the results JSON written by ``tau2 run`` (:mod:`usi.data.tau2_results`).

Readers are generators so that scoring a large corpus keeps only the feature table in
memory, never all conversations at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from usi.data.episode import Episode
from usi.errors import UsiInputError

ACCEPTED_SHAPES = (
    'accepted: canonical episodes JSONL (one {"episode_id": …} object per line), '
    'tau-usi JSON ({SESSION: {"conversation": […], …}}), '
    'or a `tau2 run` results JSON ({"info": …, "simulations": […]})'
)
"""The one list of file shapes usi reads, quoted by every wrong-shape message."""


class EpisodeFormat(StrEnum):
    CANONICAL = "canonical"
    TAU_USI = "tau-usi"
    TAU2_RESULTS = "tau2-results"


def _first_line(path: Path) -> str:
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                return line.strip()
    return ""


def detect_format(path: str | Path) -> EpisodeFormat:
    """Tell the format of ``path`` from its content."""
    p = Path(path)
    if not p.exists():
        raise UsiInputError("no such file", p)
    if p.is_dir():
        raise UsiInputError("is a directory, expected an episodes file", p)
    try:
        first = _first_line(p)
    except UnicodeDecodeError:
        raise UsiInputError("not a text file (expected JSON or JSON Lines)", p) from None
    if not first:
        raise UsiInputError("empty file: no episodes", p)
    record: Any = None
    if first.startswith("{") and first.endswith("}"):
        try:
            record = json.loads(first)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict) and "episode_id" in record:
            return EpisodeFormat.CANONICAL
    try:
        document = load_json(p)
    except UsiInputError:
        if isinstance(record, dict):  # one object per line, but not an episode
            keys = ", ".join(list(record)[:5]) or "none"
            raise UsiInputError(
                f"JSON Lines whose records have no episode_id (keys: {keys}); {ACCEPTED_SHAPES}",
                p,
                "line 1",
            ) from None
        raise
    if isinstance(document, dict):
        if "simulations" in document and "info" in document:
            return EpisodeFormat.TAU2_RESULTS
        values = list(document.values())
        if values and all(isinstance(v, dict) and "conversation" in v for v in values):
            return EpisodeFormat.TAU_USI
        if any(isinstance(v, dict) and "conversation" in v for v in values):
            session = next(
                k for k, v in document.items() if not (isinstance(v, dict) and "conversation" in v)
            )
            raise UsiInputError(
                'tau-usi session without a "conversation" list', p, f"session {session}"
            )
    raise UsiInputError(f"unrecognized format ({ACCEPTED_SHAPES})", p)


def load_json(path: Path) -> Any:
    """Parse a whole JSON document, turning a syntax error into one clear line."""
    try:
        with path.open("r", encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise UsiInputError(
            f"invalid JSON: {exc.msg}", path, f"line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise UsiInputError("not a text file (expected JSON)", path) from None


def describe_validation_error(exc: ValidationError) -> str:
    """The first pydantic error as ``field: message`` (one line, no URL)."""
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err.get("loc", ())) or "record"
    message = str(err.get("msg", "invalid"))
    # Errors raised by our own validators already say what is wrong.
    message = message.removeprefix("Value error, ")
    return f"{where}: {message}"


def read_canonical(path: str | Path) -> Iterator[Episode]:
    """Canonical JSON Lines, validated line by line."""
    p = Path(path)
    with p.open("r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield Episode.model_validate_json(line)
            except ValidationError as exc:
                if exc.errors()[0].get("type") == "json_invalid":
                    raise UsiInputError("invalid JSON line", p, f"line {number}") from None
                raise UsiInputError(describe_validation_error(exc), p, f"line {number}") from None


def iter_episodes(path: str | Path, fmt: EpisodeFormat | None = None) -> Iterator[Episode]:
    """Episodes of ``path`` in any supported format, one at a time."""
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt is EpisodeFormat.CANONICAL:
        yield from read_canonical(p)
    elif fmt is EpisodeFormat.TAU_USI:
        from usi.data.tau_usi import read_tau_usi

        yield from read_tau_usi(p)
    else:
        from usi.data.tau2_results import read_tau2_results

        yield from read_tau2_results(p)


def read_episodes(path: str | Path, fmt: EpisodeFormat | None = None) -> list[Episode]:
    """All episodes of ``path``; an empty set is bad input, not an empty answer."""
    episodes = list(iter_episodes(path, fmt))
    if not episodes:
        raise UsiInputError("no episodes", path)
    return episodes
