"""The public names of ``usi.data``: the one list (see :mod:`usi.exports`)."""

from usi.core.episode import (
    HUMAN_SOURCE as HUMAN_SOURCE,
    Episode as Episode,
    Message as Message,
    ToolCall as ToolCall,
    is_user_content as is_user_content,
)
from usi.core.survey import (
    FREE_TEXT_ITEMS as FREE_TEXT_ITEMS,
    SURVEY_ITEM_IDS as SURVEY_ITEM_IDS,
    SURVEY_ITEMS as SURVEY_ITEMS,
    SurveyItem as SurveyItem,
    score_survey as score_survey,
    validate_answer as validate_answer,
)
from usi.data.io import (
    append_line as append_line,
    atomic_writer as atomic_writer,
    write_episodes as write_episodes,
)
from usi.data.readers import (
    EpisodeFormat as EpisodeFormat,
    detect_format as detect_format,
    iter_episodes as iter_episodes,
    read_episodes as read_episodes,
)
