"""Everything the report reads, validated before a single figure is drawn.

Validation happens up front so that bad input fails fast with one line and leaves nothing
half-written in the output folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from usi.data.sides import Input, read_input, screen_table
from usi.errors import UsiInputError

#: Columns a capability CSV must have (spec: model must match a ``--sim`` NAME).
CAPABILITY_COLUMNS: tuple[str, ...] = ("model", "family", "score")
#: Columns every episode table must carry for the report to place episodes on tasks and
#: for the rules of :mod:`usi.data.sides` (who, which task, which episode).
REQUIRED_TABLE_COLUMNS: tuple[str, ...] = ("episode_id", "source", "domain", "task_id", "reward")

TableInput = str | Path | pd.DataFrame


def parse_sim_spec(spec: str) -> tuple[str, Path]:
    """``NAME=FILE`` → (name, path); anything else is bad input."""
    name, sep, file = spec.partition("=")
    name, file = name.strip(), file.strip()
    if not sep or not name or not file:
        raise UsiInputError(f"expected NAME=FILE, got {spec!r}", where="--sim")
    return name, Path(file)


def parse_sim_specs(specs: list[str]) -> dict[str, Path]:
    """All ``--sim`` options, names unique, in the order given."""
    sims: dict[str, Path] = {}
    for spec in specs:
        name, path = parse_sim_spec(spec)
        if name in sims:
            raise UsiInputError(f"simulator name {name!r} given twice", where="--sim")
        sims[name] = path
    if not sims:
        raise UsiInputError("at least one --sim NAME=FILE is required", where="--sim")
    return sims


def check_table(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """A table handed in as a DataFrame must look like ``usi.metrics.load_table``'s output."""
    missing = [c for c in REQUIRED_TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise UsiInputError(f"episode table lacks column(s) {', '.join(missing)}", where=label)
    if frame.empty:
        raise UsiInputError("no episodes", where=label)
    return frame


def load_input(source: TableInput, label: str) -> Input:
    """An input read by the rules every scoring command shares (:mod:`usi.data.sides`).

    ``source`` is a file (any format ``usi`` reads) or a DataFrame given as is; errors and
    warnings name the file, or ``label`` for a DataFrame.
    """
    if isinstance(source, pd.DataFrame):
        return screen_table(check_table(source, label).reset_index(drop=True), label)
    return read_input(Path(source))


def same_input(a: TableInput, b: TableInput) -> bool:
    """True when both name the same file (or are the same DataFrame object)."""
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return a is b
    return Path(a).resolve() == Path(b).resolve()


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
