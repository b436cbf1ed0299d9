"""Reading a large canonical JSONL file on several cores, shard by shard.

Parsing and fingerprinting are pure CPU work per line, so a big file is cut at line
boundaries into byte ranges and each range becomes table rows in a worker process. Only
the rows travel back; every worker holds at most one chunk of conversations, so memory
still grows with the table only. Errors name the same file and line as the sequential
reader does.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from usi import workers
from usi.errors import UsiInputError

if TYPE_CHECKING:
    from usi.core.episode import Episode
    from usi.inputs.sides import Screening

SHARD_BYTES = 4 * 2**20
"""Bytes of JSON Lines per shard: about 1,300 episodes of the study's size, so progress
moves often and a shard's rows are small to send back."""

PARALLEL_MIN_BYTES = 16 * 2**20
"""Below this, starting worker processes costs more than it saves."""

MAX_WORKERS = 2
"""The target machine has 2 cores."""

ShardError = tuple[str, int]  # (message, line number within the shard)


def shard_ranges(path: Path, shard_bytes: int = SHARD_BYTES) -> list[tuple[int, int]]:
    """Byte ranges [start, end) that cover the file and start at the beginning of a line."""
    size = path.stat().st_size
    starts = [0]
    with path.open("rb") as handle:
        while starts[-1] + shard_bytes < size:
            handle.seek(starts[-1] + shard_bytes)
            handle.readline()  # finish the line the cut fell into
            position = handle.tell()
            if position >= size:
                break
            starts.append(position)
    return list(zip(starts, [*starts[1:], size], strict=True))


def _lines(path: Path, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        handle.seek(start)
        number = 0
        while handle.tell() < end:
            line = handle.readline()
            if not line:
                break
            number += 1
            yield number, line


@dataclass
class Shard:
    """What a reading worker sends back: its rows, ``per_episode``'s results for them, the
    episodes it read (before the rules) and, when the rules ran, their counts."""

    rows: pd.DataFrame
    results: list[Any]
    read: int
    screening: Screening | None
    #: The rows of each other definition set asked for (``also``).
    also: dict[str, pd.DataFrame] = field(default_factory=dict)


def load_shard(
    path: Path,
    start: int,
    end: int,
    chunk_size: int,
    definitions: str = "usi-v2",
    screen: bool = False,
    per_episode: Callable[[Episode], Any] | None = None,
    also: tuple[str, ...] = (),
) -> Shard | ShardError | None:
    """Rows of the episodes in one byte range; an error as (message, line in shard).

    ``screen``: the input rules run here (:func:`usi.inputs.sides.screened`; the id rule is
    the parent's, over every shard), and ``per_episode`` on each episode kept.
    """
    from usi.data.readers import LineError, parse_line
    from usi.inputs.frame import rows_of
    from usi.inputs.sides import Screening, screened

    read = 0

    def episodes() -> Iterator[Episode]:
        nonlocal read
        for number, line in _lines(path, start, end):
            if not line.strip():
                continue
            try:  # the one line parser: the same reason as the one-process reader gives
                episode = parse_line(line, first=start == 0 and number == 1)
            except LineError as exc:
                raise _LineError(str(exc), number) from None
            read += 1
            yield episode

    screening = Screening(str(path)) if screen else None
    kept = episodes() if screening is None else screened(episodes(), screening)
    try:
        parts = list(rows_of(kept, chunk_size, definitions, per_episode, also))
    except _LineError as exc:
        return exc.message, exc.number
    except UnicodeDecodeError:
        return "not a text file (expected JSON Lines)", 0
    if not read:
        return None
    rows = [part for part, _, _ in parts]
    return Shard(
        rows=pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(),
        results=[result for _, extra, _ in parts for result in extra],
        read=read,
        screening=screening,
        also={
            name: pd.concat([more[name] for _, _, more in parts], ignore_index=True)
            for name in also
            if parts
        },
    )


class _LineError(Exception):
    def __init__(self, message: str, number: int):
        super().__init__(message)
        self.message = message
        self.number = number


def _line_number(path: Path, start: int, relative: int) -> int:
    """Line number in the file of line ``relative`` (1-based) of the shard at ``start``."""
    before = 0
    with path.open("rb") as handle:
        remaining = start
        while remaining > 0:
            block = handle.read(min(remaining, 2**20))
            if not block:
                break
            before += block.count(b"\n")
            remaining -= len(block)
    return before + relative


def load_parallel(
    path: Path,
    chunk_size: int,
    workers: int,
    progress: Callable[[int], None] | None = None,
    shard_bytes: int = SHARD_BYTES,
    definitions: str = "usi-v2",
) -> list[pd.DataFrame]:
    """The table parts of a canonical JSONL file, in file order, from ``workers`` processes."""
    shards = read_shards(path, chunk_size, workers, progress, shard_bytes, definitions)
    return [shard.rows for shard in shards]


def read_shards(
    path: Path,
    chunk_size: int,
    workers: int,
    progress: Callable[[int], None] | None = None,
    shard_bytes: int = SHARD_BYTES,
    definitions: str = "usi-v2",
    *,
    screen: bool = False,
    per_episode: Callable[[Episode], Any] | None = None,
    also: tuple[str, ...] = (),
) -> list[Shard]:
    """The shards of a canonical JSONL file, in file order, from ``workers`` processes.

    Workers are spawned, not forked: the CLI's status line runs a thread, and forking a
    process with threads can deadlock the child.
    """
    ranges = shard_ranges(path, shard_bytes)
    shards: list[Shard] = []
    done = 0
    context = multiprocessing.get_context("spawn")
    from usi.tau.env import setup_environment  # a spawned worker is an entry point

    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=setup_environment
    ) as pool:
        futures = [
            pool.submit(load_shard, path, s, e, chunk_size, definitions, screen, per_episode, also)
            for s, e in ranges
        ]
        for (start, _), future in zip(ranges, futures, strict=True):
            result = future.result()
            if isinstance(result, tuple):
                for pending in futures:
                    pending.cancel()
                message, relative = result
                where = f"line {_line_number(path, start, relative)}" if relative else None
                raise UsiInputError(message, path, where)
            if result is not None:
                shards.append(result)
                done += len(result.rows)
                if progress is not None:
                    progress(done)
    return shards


def default_workers(path: Path) -> int:
    """How many processes to read ``path`` with: 1 unless the file is large."""
    large = path.stat().st_size >= PARALLEL_MIN_BYTES
    return workers.default_workers(MAX_WORKERS if large else 1, cap=MAX_WORKERS)
