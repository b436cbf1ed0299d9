"""``--sim NAME=FILE[:RATINGS]``: parsed before anything heavy is imported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from usi.errors import UsiInputError


@dataclass(frozen=True)
class SimSpec:
    """One ``--sim NAME=FILE[:RATINGS]``."""

    name: str
    path: Path
    ratings: Path | None = None


def parse_sim_spec(spec: str) -> SimSpec:
    """``NAME=FILE`` or ``NAME=FILE:RATINGS`` (RATINGS: the tau-usi Eval ratings of that
    simulator's model; the split is at the last ``:`` unless FILE:RATINGS as a whole is an
    existing file, so a file name with a colon still works alone)."""
    name, sep, rest = spec.partition("=")
    name, rest = name.strip(), rest.strip()
    if not sep or not name or not rest:
        raise UsiInputError(f"expected NAME=FILE[:RATINGS], got {spec!r}", where="--sim")
    file, colon, ratings = rest.rpartition(":")
    if not colon or Path(rest).exists():
        return SimSpec(name, Path(rest))
    if not file.strip() or not ratings.strip():
        raise UsiInputError(f"expected NAME=FILE[:RATINGS], got {spec!r}", where="--sim")
    return SimSpec(name, Path(file.strip()), Path(ratings.strip()))


def parse_sim_specs(specs: list[str]) -> dict[str, SimSpec]:
    """All ``--sim`` options, names unique, in the order given."""
    sims: dict[str, SimSpec] = {}
    for spec in specs:
        parsed = parse_sim_spec(spec)
        if parsed.name in sims:
            raise UsiInputError(f"simulator name {parsed.name!r} given twice", where="--sim")
        sims[parsed.name] = parsed
    if not sims:
        raise UsiInputError("at least one --sim NAME=FILE is required", where="--sim")
    return sims
