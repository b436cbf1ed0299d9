"""Shared CLI vocabulary: option types every command spells the same way (no heavy imports)."""

from __future__ import annotations

from enum import StrEnum


class DefinitionsName(StrEnum):
    """The definition sets of :mod:`usi.fingerprint.definitions`, as typer choices."""

    TAU_USI = "tau-usi"
    USI_V2 = "usi-v2"


DEFAULT_DEFINITIONS = DefinitionsName.TAU_USI
"""The paper's USI is what people compare (spec §0), so it is every command's default."""
