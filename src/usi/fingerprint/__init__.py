"""The behavioral fingerprint: 19 features in 4 dimensions, per episode, over user turns.

The feature names load at once (plain tuples); the extractor, which needs numpy and pandas,
loads on first use (PEP 562) so the CLI answers a mistyped argument without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from usi.fingerprint.features import DIMENSION_NAMES, DIMENSIONS, FEATURE_DIMENSION, FEATURES

if TYPE_CHECKING:
    from usi.fingerprint.extract import (
        TURN_FLAG_FEATURES,
        fingerprint_episode,
        fingerprint_frame,
        fingerprint_turn_lists,
        fingerprint_turns,
        turn_cues,
    )

_EXTRACT = (
    "TURN_FLAG_FEATURES",
    "fingerprint_episode",
    "fingerprint_frame",
    "fingerprint_turn_lists",
    "fingerprint_turns",
    "turn_cues",
)


def __getattr__(name: str) -> Any:
    if name not in _EXTRACT:
        raise AttributeError(f"module 'usi.fingerprint' has no attribute {name!r}")
    from usi.fingerprint import extract

    value = getattr(extract, name)
    globals()[name] = value
    return value


__all__ = [
    "DIMENSIONS",
    "DIMENSION_NAMES",
    "FEATURES",
    "FEATURE_DIMENSION",
    "TURN_FLAG_FEATURES",
    "fingerprint_episode",
    "fingerprint_frame",
    "fingerprint_turn_lists",
    "fingerprint_turns",
    "turn_cues",
]
