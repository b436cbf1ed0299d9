"""The registry of definition sets: what "the USI" means in one output (spec §0).

A definition set is its per-episode feature extractor, its feature names (for
``usi fingerprint``) and its scorer; loading, the CLI, the JSON and the report take the set's
name as a parameter and look it up here, so adding a third set is one more entry.

- ``tau-usi`` (the default): the paper's USI exactly (spec §10, :mod:`usi.metrics.tau_usi`);
- ``usi-v2``: usi's small-sample variant (spec §2–§6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from usi.core.episode import Episode
from usi.errors import UsiInputError

DEFAULT = "tau-usi"
NAMES: tuple[str, ...] = ("tau-usi", "usi-v2")


@dataclass(frozen=True)
class DefinitionSet:
    """One set of measurement definitions."""

    name: str
    description: str
    features: tuple[str, ...]
    """The per-episode features ``usi fingerprint`` prints, in order."""
    feature_frame: Callable[[Sequence[Episode]], pd.DataFrame]
    """Episodes → one row each: the set's key columns (if any) then ``features``."""


def _v2() -> DefinitionSet:
    from usi.fingerprint.extract import fingerprint_frame
    from usi.fingerprint.features import FEATURES

    def frame(episodes: Sequence[Episode]) -> pd.DataFrame:
        return fingerprint_frame(episodes)[list(FEATURES)]

    return DefinitionSet(
        "usi-v2", "usi's small-sample variant (spec §2–§6)", tuple(FEATURES), frame
    )


def _tau_usi() -> DefinitionSet:
    from usi.fingerprint.tau_usi.features import FEATURES
    from usi.fingerprint.tau_usi.frame import feature_frame

    return DefinitionSet("tau-usi", "the paper's USI, exactly (spec §10)", FEATURES, feature_frame)


_FACTORIES: dict[str, Callable[[], DefinitionSet]] = {"tau-usi": _tau_usi, "usi-v2": _v2}


def get_definitions(name: str) -> DefinitionSet:
    """The definition set called ``name``; an unknown name is bad input."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise UsiInputError(
            f"unknown definitions {name!r} (known: {', '.join(NAMES)})", None, "--definitions"
        )
    return factory()
