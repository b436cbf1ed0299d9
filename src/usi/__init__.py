"""usi — how faithfully does an LLM user simulator stand in for real people?

The public API: read episodes in any supported format, fingerprint them, and score a
simulator against people with the User-Sim Index of Zhou et al. (arXiv 2603.11245).

The names load on first use (PEP 562), so ``import usi.cli`` does not pay for pydantic,
numpy and pandas before it has even parsed the arguments: a mistyped flag answers at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from usi.errors import UsiInputError

if TYPE_CHECKING:
    from usi.data import (
        HUMAN_SOURCE,
        SURVEY_ITEMS,
        Episode,
        Message,
        ToolCall,
        iter_episodes,
        read_episodes,
        write_episodes,
    )
    from usi.fingerprint import DIMENSIONS, FEATURES

from usi.version import __version__

_LAZY: dict[str, str] = {
    "HUMAN_SOURCE": "usi.data",
    "SURVEY_ITEMS": "usi.data",
    "Episode": "usi.data",
    "Message": "usi.data",
    "ToolCall": "usi.data",
    "iter_episodes": "usi.data",
    "read_episodes": "usi.data",
    "write_episodes": "usi.data",
    "DIMENSIONS": "usi.fingerprint",
    "FEATURES": "usi.fingerprint",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'usi' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "DIMENSIONS",
    "FEATURES",
    "HUMAN_SOURCE",
    "SURVEY_ITEMS",
    "Episode",
    "Message",
    "ToolCall",
    "UsiInputError",
    "__version__",
    "iter_episodes",
    "read_episodes",
    "write_episodes",
]
