"""The public names of ``usi``: the one list (see :mod:`usi.exports`)."""

from usi.data import (
    HUMAN_SOURCE as HUMAN_SOURCE,
    SURVEY_ITEMS as SURVEY_ITEMS,
    Episode as Episode,
    Message as Message,
    ToolCall as ToolCall,
    iter_episodes as iter_episodes,
    read_episodes as read_episodes,
    write_episodes as write_episodes,
)
from usi.errors import UsiInputError as UsiInputError
from usi.fingerprint import DIMENSIONS as DIMENSIONS, FEATURES as FEATURES
from usi.version import __version__ as __version__
