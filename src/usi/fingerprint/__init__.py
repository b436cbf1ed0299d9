"""The behavioral fingerprint: 19 features in 4 dimensions, per episode, over user turns."""

from usi.fingerprint.extract import (
    TURN_FLAG_FEATURES,
    fingerprint_episode,
    fingerprint_frame,
    fingerprint_turn_lists,
    fingerprint_turns,
    turn_cues,
)
from usi.fingerprint.features import DIMENSION_NAMES, DIMENSIONS, FEATURE_DIMENSION, FEATURES

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
