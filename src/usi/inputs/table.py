"""From episodes to the per-episode table that every metric reads.

Scoring never holds conversations: episodes are read in chunks, each chunk is reduced to
its rows (meta, survey, judge, the 19 features) and dropped, so memory grows with the
table (about 50 numbers per episode), never with the text of the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from usi.core.episode import HUMAN_SOURCE, Episode
from usi.errors import UsiInputError
from usi.fingerprint.features import FEATURES  # noqa: F401  (re-exported for callers)
from usi.inputs.frame import TABLE_DEFINITIONS, empty_rows, rows_of

if TYPE_CHECKING:
    from usi.inputs.sides import Screening

DEFAULT_CHUNK_SIZE = 2048
"""Episodes reduced per step: large enough to amortize pandas overhead, small enough that
the conversations in flight stay a few megabytes."""

TASK_KEY_SEPARATOR = "/"
ProgressCallback = Callable[[int], None]


def load_table(
    source: str | Path | Iterable[Episode],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    definitions: str = TABLE_DEFINITIONS,
) -> pd.DataFrame:
    """One row per episode: ``episode_frame`` columns then the features of ``definitions``
    (usi-v2: the 19 ``FEATURES``; tau-usi: its key columns and the paper's 20 features).

    ``source`` is a path in any format ``usi.data.iter_episodes`` reads, or episodes
    already in memory. ``progress`` is called with the number of episodes read so far
    (the CLI draws its status line from it). A large canonical JSONL file is read by
    ``workers`` processes (default: 2 above ``shards.PARALLEL_MIN_BYTES``, else 1); the
    table is the same either way. No input rule is applied (``build_table`` applies them).
    """
    return build_table(
        source, chunk_size=chunk_size, progress=progress, workers=workers, definitions=definitions
    ).table


class Built(NamedTuple):
    """What the table builder returns: the table, ``per_episode``'s results in row order,
    and the table of each other definition set asked for (same rows, that set's features)."""

    table: pd.DataFrame
    results: list[Any]
    also: dict[str, pd.DataFrame]


def build_table(
    source: str | Path | Iterable[Episode],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    definitions: str = TABLE_DEFINITIONS,
    screening: Screening | None = None,
    per_episode: Callable[[Episode], Any] | None = None,
    also: tuple[str, ...] = (),
) -> Built:
    """The one table builder: each episode is decoded once and, in the same pass (in the
    reading workers when there are workers), kept or left out by the input rules
    (``screening``, :meth:`usi.inputs.sides.Screening.admit`), reduced to its row (and to its
    row under each definition set of ``also``) and given to ``per_episode``.

    With ``screening`` the id rule is checked over the rows kept (all repeated ids in one
    error), and an input whose episodes were all left out is an empty table, not an error:
    the commands say which side has nothing left.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    path: Path | None = None
    parts: list[pd.DataFrame] = []
    results: list[Any] = []
    more: dict[str, list[pd.DataFrame]] = {name: [] for name in also}
    read = 0
    if isinstance(source, str | Path):
        from usi.data.readers import EpisodeFormat, open_episodes
        from usi.inputs.shards import default_workers, read_shards

        path = Path(source)
        fmt, stream = open_episodes(path)  # a whole-document format is decoded here, once
        n_workers = workers if workers is not None else default_workers(path)
        if fmt is EpisodeFormat.CANONICAL and n_workers > 1:
            shards = read_shards(
                path,
                chunk_size,
                n_workers,
                progress,
                definitions=definitions,
                screen=screening is not None,
                per_episode=per_episode,
                also=also,
            )
            for shard in shards:
                parts.append(shard.rows)
                results += shard.results
                for name, rows in shard.also.items():
                    more[name].append(rows)
                read += shard.read
                if screening is not None and shard.screening is not None:
                    screening.merge(shard.screening)
            episodes: Iterable[Episode] = ()
        else:
            episodes = stream
    else:
        episodes = source
    from usi.inputs.sides import screened

    done = 0
    counted = _counted(episodes)
    kept = counted if screening is None else screened(counted, screening)
    for part, extra, other in rows_of(kept, chunk_size, definitions, per_episode, also):
        parts.append(part)
        results += extra
        for name, rows in other.items():
            more[name].append(rows)
        done += len(part)
        if progress is not None:
            progress(done)
    read += counted.n
    if not read:
        raise UsiInputError("no episodes", path)
    table = _assemble(parts, definitions)
    if screening is not None:
        screening.check_ids(table["episode_id"].astype(str))
    return Built(table, results, {name: _assemble(more[name], name) for name in also})


def _assemble(parts: list[pd.DataFrame], definitions: str) -> pd.DataFrame:
    """One table from its parts in order (the empty table when no row is left)."""
    parts = [part for part in parts if len(part)]
    table = pd.concat(parts, ignore_index=True) if parts else empty_rows(definitions)
    table.attrs["definitions"] = definitions
    return table


class _counted:
    """Episodes passed through, counted (before any rule leaves one out)."""

    def __init__(self, episodes: Iterable[Episode]) -> None:
        self.episodes = episodes
        self.n = 0

    def __iter__(self) -> Iterator[Episode]:
        for episode in self.episodes:
            self.n += 1
            yield episode


def task_keys(table: pd.DataFrame) -> pd.Series:
    """The task of each row as ``domain/task_id``; missing (NaN) where the episode is unaligned.

    τ² ids repeat across domains (airline "5" and retail "5" are different tasks), so a
    task is identified by both.
    """
    keys = table["domain"].astype(str) + TASK_KEY_SEPARATOR + table["task_id"].astype(str)
    return keys.where(table["task_id"].notna(), None)


def human_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The people's episodes of a table."""
    return table[table["source"] == HUMAN_SOURCE].reset_index(drop=True)


def simulator_sources(table: pd.DataFrame) -> list[str]:
    """Names of the non-human sources of a table, in order of first appearance."""
    sources = table.loc[table["source"] != HUMAN_SOURCE, "source"]
    return list(dict.fromkeys(sources.astype(str)))
