"""usi — how faithfully does an LLM user simulator stand in for real people?

The public API: read episodes in any supported format, fingerprint them, and score a
simulator against people with the User-Sim Index of Zhou et al. (arXiv 2603.11245).
"""

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
from usi.errors import UsiInputError
from usi.fingerprint import DIMENSIONS, FEATURES

__version__ = "0.1.0"

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
