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


@given(st.text(alphabet="#/<>|[]sStToOpP ſINST_ofturn\n", max_size=30))
def test_control_tokens_stripped_as_by_the_whole_pattern(text: str) -> None:
    from usi.audit.view import CONTROL_TOKEN_RE, strip_control

    assert strip_control(text) == " ".join(CONTROL_TOKEN_RE.sub(" ", text).split())


def test_control_tokens_by_hand() -> None:
    from usi.audit.view import strip_control

    assert strip_control("ok ###STOP###") == "ok"
    assert strip_control("order #W1234567 <|im_end|>") == "order #W1234567"
    assert strip_control("/ſtop") == ""  # re.IGNORECASE folds the long s to "s"
    assert strip_control("[INST] hi [/INST]") == "hi"


def test_phrases_as_literal_starts_in_the_order_they_are_tried() -> None:
    from usi.audit.view import literal_starts

    assert literal_starts("(?:the|my) system prompt") == ["the system prompt", "my system prompt"]
    assert literal_starts("(?:i )?apologi[sz]e") == ["i apologi[sz]e", "apologi[sz]e"]
    assert literal_starts("(?:i am|i'm) (?:a|an) ai") == ["i am (?:a|an) ai", "i'm (?:a|an) ai"]
    with pytest.raises(ValueError, match="must start"):
        literal_starts(r"\w+ says")


ROLE_WORDS = st.sampled_from(
    [
        "i",
        "apologize",
        "apologise",
        "for",
        "the",
        "any",
        "inconvenience",
        "confusion",
        "how",
        "can",
        "help",
        "you",
        "today",
        "my",
        "system",
        "prompt",
        "as",
        "an",
        "ai",
        "x",
    ]
)


@given(st.lists(st.tuples(ROLE_WORDS, st.sampled_from([" ", "", ". ", "_"])), max_size=10))
def test_the_fast_pattern_finds_the_span_the_plain_one_finds(parts: list[tuple[str, str]]) -> None:
    text = "".join(word + gap for word, gap in parts)
    for cues in (ROLE, FRAMING):
        plain = re.compile(cues.folded.pattern).search(text)
        fast = cues.lowered.search(text)
        assert (None if plain is None else plain.span()) == (None if fast is None else fast.span())
