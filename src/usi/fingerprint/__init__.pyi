"""The public names of ``usi.fingerprint``: the one list (see :mod:`usi.exports`)."""

from usi.fingerprint.extract import (
    TURN_FLAG_FEATURES as TURN_FLAG_FEATURES,
    fingerprint_episode as fingerprint_episode,
    fingerprint_frame as fingerprint_frame,
    fingerprint_turn_lists as fingerprint_turn_lists,
    fingerprint_turns as fingerprint_turns,
    turn_cues as turn_cues,
)
from usi.fingerprint.features import (
    DIMENSION_NAMES as DIMENSION_NAMES,
    DIMENSIONS as DIMENSIONS,
    FEATURE_DIMENSION as FEATURE_DIMENSION,
    FEATURES as FEATURES,
)
