"""Everything the report reads, validated before a single figure is drawn.

Validation happens up front so that bad input fails fast with one line and leaves nothing
half-written in the output folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from usi.errors import UsiInputError
from usi.inputs.sides import Input, read_input, screen_table

if TYPE_CHECKING:
    from usi.core.episode import Episode

#: Columns a capability CSV must have (spec: model must match a ``--sim`` NAME).
CAPABILITY_COLUMNS: tuple[str, ...] = ("model", "family", "score")
#: Columns every episode table must carry for the report to place episodes on tasks and
#: for the rules of :mod:`usi.inputs.sides` (who, which task, which episode).
REQUIRED_TABLE_COLUMNS: tuple[str, ...] = ("episode_id", "source", "domain", "task_id", "reward")

TableInput = str | Path | pd.DataFrame | tuple[Path, ...]
"""A file, several files pooled as one input (``usi demo``'s runs, one per domain), or a
table given as is (``usi.metrics.load_table``'s shape; usi-v2 reports only)."""


def check_table(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """A table handed in as a DataFrame must look like ``usi.metrics.load_table``'s output."""
    missing = [c for c in REQUIRED_TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise UsiInputError(f"episode table lacks column(s) {', '.join(missing)}", where=label)
    if frame.empty:
        raise UsiInputError("no episodes", where=label)
    return frame


def load_input(
    source: TableInput,
    label: str,
    definitions: str = "usi-v2",
    also: tuple[str, ...] = (),
    per_episode: Callable[[Episode], Any] | None = None,
) -> Input:
    """An input read by the rules every scoring command shares (:mod:`usi.inputs.sides`).

    ``source`` is a file (any format ``usi`` reads), several files pooled, or a DataFrame
    given as is (already a table of one definition set); errors and warnings name the file,
    or ``label`` for a DataFrame. A file is read once for everything asked: the table of
    ``definitions``, those of ``also`` and ``per_episode``'s results (the report's audit).
    Pooled files and DataFrames are read as before, without ``also`` or ``per_episode``.
    """
    if isinstance(source, pd.DataFrame):
        return screen_table(check_table(source, label).reset_index(drop=True), label)
    if isinstance(source, tuple):
        from itertools import chain

        from usi.data.readers import iter_episodes
        from usi.inputs.table import load_table

        episodes = chain.from_iterable(iter_episodes(p) for p in source)
        table = load_table(episodes, definitions=definitions)
        return screen_table(table, " + ".join(str(p) for p in source))
    return read_input(Path(source), definitions=definitions, also=also, per_episode=per_episode)


def source_files(source: TableInput) -> tuple[Path, ...]:
    """The files of an input (none for a DataFrame)."""
    if isinstance(source, pd.DataFrame):
        return ()
    if isinstance(source, tuple):
        return source
    return (Path(source),)


def same_input(a: TableInput, b: TableInput) -> bool:
    """True when both name the same file(s) (or are the same DataFrame object)."""
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return a is b
    return [p.resolve() for p in source_files(a)] == [p.resolve() for p in source_files(b)]


def load_capability(path: str | Path, sim_names: Mapping[str, object]) -> pd.DataFrame:
    """The user's capability CSV (model, family, score), checked against the simulator names."""
    p = Path(path)
    if not p.is_file():
        raise UsiInputError("no such file", p)
    try:
        frame = pd.read_csv(p, dtype={"model": str, "family": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsiInputError(f"not a readable CSV: {reason}", p) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in CAPABILITY_COLUMNS if c not in frame.columns]
    if missing:
        raise UsiInputError(
            f"missing column(s) {', '.join(missing)} (expected: {', '.join(CAPABILITY_COLUMNS)})",
            p,
        )
    frame = frame[list(CAPABILITY_COLUMNS)].copy()
    if frame.empty:
        raise UsiInputError("no rows", p)
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for number, row in enumerate(records, start=2):
        where = f"line {number}"
        model = "" if pd.isna(row["model"]) else str(row["model"]).strip()
        if not model:
            raise UsiInputError("empty model name", p, where)
        if model not in sim_names:
            known = ", ".join(sim_names)
            raise UsiInputError(f"model {model!r} is not a --sim NAME (known: {known})", p, where)
        if pd.isna(row["family"]) or not str(row["family"]).strip():
            raise UsiInputError(f"empty family for model {model!r}", p, where)
        try:
            score = float(row["score"])
        except (TypeError, ValueError):
            raise UsiInputError(f"score {row['score']!r} is not a number", p, where) from None
        if score != score:
            raise UsiInputError(f"missing score for model {model!r}", p, where)
    frame["model"] = frame["model"].str.strip()
    frame["family"] = frame["family"].astype(str).str.strip()
    frame["score"] = frame["score"].astype(float)
    duplicated = frame["model"][frame["model"].duplicated()].tolist()
    if duplicated:
        raise UsiInputError(f"model {duplicated[0]!r} listed twice", p)
    return frame.reset_index(drop=True)
