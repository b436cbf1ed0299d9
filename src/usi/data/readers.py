"""Read episodes from any of the three formats, detected from the content, not the name.

- canonical JSON Lines (:mod:`usi.core.episode`),
- the tau-usi human-study JSON (spec §8, :mod:`usi.data.tau_usi`),
- the results JSON written by ``tau2 run`` (:mod:`usi.tau.results`).

Readers are generators so that scoring a large corpus keeps only the feature table in
memory, never all conversations at once. A whole-document format (tau-usi, τ² results) is
decoded once: the document format detection decoded is handed to the reader.

``agent=False`` is for commands that read only the user's turns (``usi fingerprint``): the
tau-usi reader then leaves the agent's markup (tool calls, results, reasoning) unparsed, and
the episodes' messages are the user's messages only. Every other command reads whole episodes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from usi.core.decode import describe_validation_error, load_json
from usi.core.episode import Episode
from usi.errors import UsiInputError

__all__ = [
    "ACCEPTED_SHAPES",
    "EpisodeFormat",
    "describe_validation_error",
    "detect_format",
    "iter_episodes",
    "load_json",
    "open_episodes",
    "read_canonical",
    "read_episodes",
]

ACCEPTED_SHAPES = (
    'accepted: canonical episodes JSONL (one {"episode_id": …} object per line), '
    'tau-usi JSON ({SESSION: {"conversation": […], …}}), '
    'the paper\'s simulator results JSON ({INSTANCE: {"conversation": […], "reward": …}}), '
    'or a `tau2 run` results JSON ({"info": …, "simulations": […]})'
)
"""The one list of file shapes usi reads, quoted by every wrong-shape message."""


BOM = b"\xef\xbb\xbf"


class EpisodeFormat(StrEnum):
    CANONICAL = "canonical"
    TAU_USI = "tau-usi"
    TAU2_RESULTS = "tau2-results"
    TAU_USI_RESULTS = "tau-usi-results"


def _first_line(path: Path) -> tuple[bytes, bool]:
    """The first non-empty line of ``path`` (stripped bytes), and whether anything follows it.

    Read as bytes, chunk by chunk: a tau-usi or τ² document is often one line of 100 MB,
    which must not be decoded as text just to look at its first character.
    """
    with path.open("rb") as handle:
        parts: list[bytes] = []
        while chunk := handle.read(1 << 20):
            start = 0
            while (newline := chunk.find(b"\n", start)) != -1:
                parts.append(chunk[start:newline])
                line = b"".join(parts).strip()
                parts, start = [], newline + 1
                if line:
                    return line, bool(chunk[start:].strip()) or _more(handle)
            parts.append(chunk[start:])
        return b"".join(parts).strip(), False


def _more(handle: Any) -> bool:
    """Whether anything but whitespace is left to read from ``handle``."""
    while chunk := handle.read(1 << 16):
        if chunk.strip():
            return True
    return False


def _is_text(prefix: bytes) -> bool:
    """UTF-8 at the start of the file (a character cut by the prefix's end is fine)."""
    try:
        prefix.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(prefix) - 3
    return True


def detect_format(path: str | Path) -> EpisodeFormat:
    """Tell the format of ``path`` from its content."""
    p = Path(path)
    fmt, document = _sniff(p)
    if fmt is EpisodeFormat.TAU_USI and not isinstance(document, dict):
        try:  # a streamed document is a tau-usi one only once every session was seen
            for _ in document:
                pass
        except _NotStreamable:
            return _classify(p, load_json(p))[0]
    return fmt


def _sniff(p: Path) -> tuple[EpisodeFormat, Any]:
    """The format of ``p`` and, for a whole-document format, the decoded document."""
    if not p.exists():
        raise UsiInputError("no such file", p)
    if p.is_dir():
        raise UsiInputError("is a directory, expected an episodes file", p)
    if not p.is_file():  # /dev/zero would be read without end, a pipe cannot be read twice
        raise UsiInputError("not a regular file (a device or a pipe), expected an episodes file", p)
    first, more = _first_line(p)
    first = first.removeprefix(BOM)  # a UTF-8 byte-order mark is not part of the record
    if not _is_text(first[:4096]):
        raise UsiInputError("not a text file (expected JSON or JSON Lines)", p)
    if not first:
        raise UsiInputError("empty file: no episodes", p)
    document: Any = None
    record: Any = None
    if first.startswith(b"{") and first.endswith(b"}"):
        if more:  # several lines: is the first one a canonical episode?
            try:
                record = json.loads(first)
            except UnicodeDecodeError:
                raise UsiInputError("not a text file (expected JSON or JSON Lines)", p) from None
            except (json.JSONDecodeError, RecursionError):  # nested deeper than json goes
                record = None
        else:  # the whole file is one line: decode it once, whatever it is
            streamed = _study_stream(p)
            if streamed is not None:
                return EpisodeFormat.TAU_USI, streamed
            record = document = load_json(p)
        if isinstance(record, dict) and "episode_id" in record:
            return EpisodeFormat.CANONICAL, None
    if document is None:
        if record is None and first.startswith(b"{"):
            streamed = _study_stream(p)
            if streamed is not None:
                return EpisodeFormat.TAU_USI, streamed
        try:
            document = load_json(p)
        except UsiInputError:
            if isinstance(record, dict):  # one object per line, but not an episode
                keys = ", ".join(list(record)[:5]) or "none"
                raise UsiInputError(
                    f"JSON Lines whose records have no episode_id (keys: {keys}); "
                    f"{ACCEPTED_SHAPES}",
                    p,
                    "line 1",
                ) from None
            raise
    return _classify(p, document)


def _classify(p: Path, document: Any) -> tuple[EpisodeFormat, Any]:
    """The format of a decoded whole document (the rules of :func:`_sniff`)."""
    if isinstance(document, dict):
        if "simulations" in document and "info" in document:
            return EpisodeFormat.TAU2_RESULTS, document
        from usi.data.paper_results import is_results_document

        if is_results_document(document):
            return EpisodeFormat.TAU_USI_RESULTS, document
        values = document.values()
        if values and all(isinstance(v, dict) and "conversation" in v for v in values):
            return EpisodeFormat.TAU_USI, document
        if any(isinstance(v, dict) and "conversation" in v for v in values):
            session = next(
                k for k, v in document.items() if not (isinstance(v, dict) and "conversation" in v)
            )
            raise UsiInputError(
                'tau-usi session without a "conversation" list', p, f"session {session}"
            )
    raise UsiInputError(f"unrecognized format ({ACCEPTED_SHAPES})", p)


class _NotStreamable(Exception):
    """The streamed document turned out not to be a plain tau-usi one: decode it whole."""


def _study_stream(p: Path) -> Iterator[tuple[str, Any]] | None:
    """The sessions of a tau-usi document, decoded one at a time, or None when it is not one.

    A raw study file is one JSON object of sessions, often 100 MB on one line; decoded whole
    it is several times that in memory, and as large again when read. ijson's C parser
    yields one ``(key, session)`` at a time instead, as fast as decoding it whole. The first
    session decides: a study session (set-up line, platform fields) is never of another format
    (:func:`usi.data.paper_results.is_results_document`). Anything that would make the
    document not a plain tau-usi one (a value without a conversation, a repeated key, τ²'s
    ``info`` and ``simulations``, bad JSON after the first session) raises
    :class:`_NotStreamable` from the stream: the reader then decodes the file whole, and every
    message is the whole-document path's own.
    """
    import ijson

    from usi.data.paper_results import is_study_session

    handle = p.open("rb")
    if handle.read(3) != BOM:
        handle.seek(0)
    items = ijson.kvitems(handle, "", use_float=True)
    try:
        key, value = next(items)
    except (StopIteration, ijson.JSONError, UnicodeDecodeError, ValueError):
        handle.close()
        return None
    if not (isinstance(value, dict) and "conversation" in value and is_study_session(value)):
        handle.close()
        return None

    def sessions() -> Iterator[tuple[str, Any]]:
        seen = {key}
        with handle:
            yield key, value
            try:
                for name, session in items:
                    if name in seen or not (
                        isinstance(session, dict) and "conversation" in session
                    ):
                        raise _NotStreamable
                    seen.add(name)
                    yield name, session
            except (ijson.JSONError, UnicodeDecodeError, ValueError):
                raise _NotStreamable from None
            if "info" in seen and "simulations" in seen:
                raise _NotStreamable

    return sessions()


class LineError(ValueError):
    """A canonical line that is not an episode; ``str(exc)`` is the one-line reason."""


def parse_line(raw: bytes, *, first: bool = False) -> Episode:
    """One line of canonical JSON Lines as an :class:`Episode` — the one parser of the format.

    The file reader, the parallel shard readers (:mod:`usi.inputs.shards`) and ``--resume``
    (:mod:`usi.run.outfile`) all read lines through here, so a line is valid, or refused
    with the same reason, whoever reads it. ``first``: the file's first line, which may
    carry a UTF-8 byte-order mark.
    """
    try:
        line = (raw.removeprefix(BOM) if first else raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(f"not valid UTF-8 (byte {exc.start + 1} of the line)") from None
    try:
        return Episode.model_validate_json(line)
    except ValidationError as exc:
        if exc.errors()[0].get("type") == "json_invalid":
            raise LineError("invalid JSON line") from None
        raise LineError(describe_validation_error(exc)) from None


def read_canonical(path: str | Path) -> Iterator[Episode]:
    """Canonical JSON Lines, validated line by line."""
    p = Path(path)
    with p.open("rb") as handle:  # decoded line by line: a bad byte names its line
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield parse_line(raw, first=number == 1)
            except LineError as exc:
                raise UsiInputError(str(exc), p, f"line {number}") from None


def open_episodes(
    path: str | Path, *, agent: bool = True
) -> tuple[EpisodeFormat, Iterator[Episode]]:
    """The format of ``path`` and its episodes, the file decoded once (not once to tell the
    format and again to read it)."""
    p = Path(path)
    fmt, document = _sniff(p)
    return fmt, _episodes(p, fmt, document, agent=agent)


def iter_episodes(
    path: str | Path, fmt: EpisodeFormat | None = None, *, agent: bool = True
) -> Iterator[Episode]:
    """Episodes of ``path`` in any supported format, one at a time.

    ``agent=False``: only the user's messages are needed (see the module doc).
    """
    p = Path(path)
    document: Any = None
    if fmt is None:
        fmt, document = _sniff(p)
    yield from _episodes(p, fmt, document, agent=agent)


def _episodes(
    p: Path, fmt: EpisodeFormat, document: Any, *, agent: bool = True
) -> Iterator[Episode]:
    if fmt is EpisodeFormat.CANONICAL:
        yield from read_canonical(p)
    elif fmt is EpisodeFormat.TAU_USI:
        from usi.data.tau_usi import read_tau_usi

        if isinstance(document, dict) or document is None:
            yield from read_tau_usi(p, document=document, agent=agent)
            return
        try:  # streamed: every session is read before the first episode is yielded
            episodes = read_tau_usi(p, document=document, agent=agent)
            first = next(episodes, None)
        except _NotStreamable:  # not a plain tau-usi document after all: decode it whole
            fmt, document = _classify(p, load_json(p))
            yield from _episodes(p, fmt, document, agent=agent)
            return
        if first is not None:
            yield first
            yield from episodes
    elif fmt is EpisodeFormat.TAU_USI_RESULTS:
        from usi.data.paper_results import read_results

        yield from read_results(p, load_json(p) if document is None else document)
    else:
        from usi.tau.results import read_tau2_results

        yield from read_tau2_results(p, document=document)


def read_episodes(path: str | Path, fmt: EpisodeFormat | None = None) -> list[Episode]:
    """All episodes of ``path``; an empty set is bad input, not an empty answer."""
    episodes = list(iter_episodes(path, fmt))
    if not episodes:
        raise UsiInputError("no episodes", path)
    return episodes
