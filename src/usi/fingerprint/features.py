"""The 19 behavioral features and their 4 dimensions (spec §2).

The order here is the column order of every feature table and every report, so that a
fingerprint computed today lines up with one computed by another version of ``usi``.
"""

from __future__ import annotations

#: Episodes fingerprinted together. Large enough that per-chunk overhead vanishes, small enough
#: that the joined text and token arrays of a chunk stay a few megabytes. (Here, not in
#: :mod:`usi.fingerprint.extract`: the tau-usi path chunks alike without compiling its lexicons.)
CHUNK_EPISODES = 2048

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "D1": (
        "words_per_turn",
        "short_utterance_rate",
        "politeness_rate",
        "formality_rate",
        "acknowledgment_rate",
        "verbosity_cv",
        "repetition_rate",
        "identity_confusion_rate",
    ),
    "D2": ("front_loading_ratio", "identifiers_per_turn", "opening_length"),
    "D3": (
        "uncertainty_rate",
        "certainty_rate",
        "pushback_rate",
        "clarification_question_rate",
        "info_seeking_rate",
    ),
    "D4": ("emotional_expression_rate", "accusatory_rate", "strategy_pivot_rate"),
}

DIMENSION_NAMES: dict[str, str] = {
    "D1": "Communication style",
    "D2": "Information pattern",
    "D3": "Clarification",
    "D4": "Error reaction",
}

FEATURES: tuple[str, ...] = tuple(f for features in DIMENSIONS.values() for f in features)
FEATURE_DIMENSION: dict[str, str] = {f: d for d, fs in DIMENSIONS.items() for f in fs}

assert len(FEATURES) == 19, "the spec defines exactly 19 features"
