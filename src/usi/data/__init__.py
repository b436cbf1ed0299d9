"""Episodes: the canonical format, the survey instrument, and readers for every source."""

from usi.data.episode import HUMAN_SOURCE, Episode, Message, ToolCall, is_user_content
from usi.data.io import append_line, atomic_writer, write_episodes
from usi.data.readers import EpisodeFormat, detect_format, iter_episodes, read_episodes
from usi.data.survey import (
    FREE_TEXT_ITEMS,
    SURVEY_ITEM_IDS,
    SURVEY_ITEMS,
    SurveyItem,
    score_survey,
    validate_answer,
)

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
