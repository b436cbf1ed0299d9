"""Episodes: the canonical format, the survey instrument, and readers for every source.

Names load on first use (PEP 562): ``usi data …`` checks its arguments before pydantic and
the readers are imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from usi.core.episode import HUMAN_SOURCE, Episode, Message, ToolCall, is_user_content
    from usi.core.survey import (
        FREE_TEXT_ITEMS,
        SURVEY_ITEM_IDS,
        SURVEY_ITEMS,
        SurveyItem,
        score_survey,
        validate_answer,
    )
    from usi.data.io import append_line, atomic_writer, write_episodes
    from usi.data.readers import EpisodeFormat, detect_format, iter_episodes, read_episodes

_EXPORTS: dict[str, str] = {
    "HUMAN_SOURCE": "usi.core.episode",
    "Episode": "usi.core.episode",
    "Message": "usi.core.episode",
    "ToolCall": "usi.core.episode",
    "is_user_content": "usi.core.episode",
    "append_line": "usi.data.io",
    "atomic_writer": "usi.data.io",
    "write_episodes": "usi.data.io",
    "EpisodeFormat": "usi.data.readers",
    "detect_format": "usi.data.readers",
    "iter_episodes": "usi.data.readers",
    "read_episodes": "usi.data.readers",
    "FREE_TEXT_ITEMS": "usi.core.survey",
    "SURVEY_ITEM_IDS": "usi.core.survey",
    "SURVEY_ITEMS": "usi.core.survey",
    "SurveyItem": "usi.core.survey",
    "score_survey": "usi.core.survey",
    "validate_answer": "usi.core.survey",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'usi.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "FREE_TEXT_ITEMS",
    "HUMAN_SOURCE",
    "SURVEY_ITEMS",
    "SURVEY_ITEM_IDS",
    "Episode",
    "EpisodeFormat",
    "Message",
    "SurveyItem",
    "ToolCall",
    "append_line",
    "atomic_writer",
    "detect_format",
    "is_user_content",
    "iter_episodes",
    "read_episodes",
    "score_survey",
    "validate_answer",
    "write_episodes",
]
