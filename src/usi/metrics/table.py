"""From episodes to the per-episode table that every metric reads.

Scoring never holds conversations: episodes are read in chunks, each chunk is reduced to
its rows (meta, survey, judge, the 19 features) and dropped, so memory grows with the
table (about 50 numbers per episode), never with the text of the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

import pandas as pd

from usi.data.episode import HUMAN_SOURCE, Episode
from usi.data.table import episode_frame
from usi.errors import UsiInputError
from usi.fingerprint.features import FEATURES  # noqa: F401  (re-exported for callers)

DEFAULT_CHUNK_SIZE = 2048
"""Episodes reduced per step: large enough to amortize pandas overhead, small enough that
the conversations in flight stay a few megabytes."""

TASK_KEY_SEPARATOR = "/"
DEFAULT_DEFINITIONS = "usi-v2"
"""The table's feature set when none is named (the scoring CLI names one explicitly)."""

ProgressCallback = Callable[[int], None]


def _chunks(episodes: Iterable[Episode], size: int) -> Iterator[list[Episode]]:
    iterator = iter(episodes)
    while chunk := list(islice(iterator, size)):
        yield chunk


def rows_of(
    episodes: Iterable[Episode], chunk_size: int, definitions: str = DEFAULT_DEFINITIONS
) -> Iterator[pd.DataFrame]:
    """Table rows chunk by chunk; each chunk's conversations are dropped once reduced.

    The feature columns are those of the ``definitions`` set (:mod:`usi.metrics.definitions`).
    """
    from usi.metrics.definitions import get_definitions

    frame = get_definitions(definitions).feature_frame
    for chunk in _chunks(episodes, chunk_size):
        meta = episode_frame(chunk)
        yield pd.concat([meta, frame(chunk).reset_index(drop=True)], axis=1)


def load_table(
    source: str | Path | Iterable[Episode],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    definitions: str = DEFAULT_DEFINITIONS,
) -> pd.DataFrame:
    """One row per episode: ``episode_frame`` columns then the features of ``definitions``
    (usi-v2: the 19 ``FEATURES``; tau-usi: its key columns and the paper's 20 features).

    ``source`` is a path in any format ``usi.data.iter_episodes`` reads, or episodes
    already in memory. ``progress`` is called with the number of episodes read so far
    (the CLI draws its status line from it). A large canonical JSONL file is read by
    ``workers`` processes (default: 2 above ``shards.PARALLEL_MIN_BYTES``, else 1); the
    table is the same either way.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    path: Path | None = None
    parts: list[pd.DataFrame] = []
    if isinstance(source, str | Path):
        from usi.data.readers import EpisodeFormat, detect_format, iter_episodes
        from usi.metrics.shards import default_workers, load_parallel

        path = Path(source)
        fmt = detect_format(path)
        n_workers = workers if workers is not None else default_workers(path)
        if fmt is EpisodeFormat.CANONICAL and n_workers > 1:
            parts = load_parallel(path, chunk_size, n_workers, progress, definitions=definitions)
            episodes: Iterable[Episode] = ()
        else:
            episodes = iter_episodes(path, fmt)
    else:
        episodes = source
    done = 0
    for part in rows_of(episodes, chunk_size, definitions):
        parts.append(part)
        done += len(part)
        if progress is not None:
            progress(done)
    if not parts:
        raise UsiInputError("no episodes", path)
    table = pd.concat(parts, ignore_index=True)
    table.attrs["definitions"] = definitions
    return table


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
