"""The fast case-insensitive cue search finds what ``re.IGNORECASE`` finds, as written."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from usi.audit.rules.leak import FRAMING, FRAMING_CUES
from usi.audit.rules.role import ROLE
from usi.audit.view import Cues


def test_ascii_text_gives_the_phrase_as_written() -> None:
    assert ROLE.search("Ok. How Can I HELP you today?") == "How Can I HELP"
    assert FRAMING.search("well, AS AN AI i cannot") == "AS AN AI"
    assert ROLE.search("how can i helpful") is None  # a phrase ends at a word boundary


def test_non_ascii_text_keeps_unicode_case_folding() -> None:
    # U+212A KELVIN SIGN folds to "k" under re.IGNORECASE, which str.lower() does not do
    cues = Cues(("ok thanks",))
    assert cues.search("o\u212a thanks, café") == "o\u212a thanks"


def test_phrases_must_be_lower_case() -> None:
    with pytest.raises(ValueError, match="lower case"):
        Cues(("How can I",))


@given(st.text(alphabet="asAS ai-role play.\u212a\u0130", max_size=40))
def test_same_match_as_the_case_insensitive_pattern(text: str) -> None:
    folded = re.compile(r"(?<!\w)(?:" + "|".join(FRAMING_CUES) + r")(?!\w)", re.IGNORECASE)
    found = folded.search(text)
    assert FRAMING.search(text) == (None if found is None else found.group(0))
