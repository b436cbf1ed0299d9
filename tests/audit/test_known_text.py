"""The identifier rule's faster paths give the answers of the rule as written.

Each shortcut is checked against the plain form it replaces, on hand-picked cases and on
random text built from the characters that matter (digits, the separators between digits,
``#``, case-changing letters, Unicode digits and spaces).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usi.audit.rules import identifiers as rule
from usi.audit.rules.identifiers import KnownText, _known_text, identifiers
from usi.audit.view import EpisodeView
from usi.core.episode import Episode, Message, ToolCall

#: Digits, every separator between digits, ``#``, letters whose lower case differs in
#: length or context (İ, Σ), an Arabic-Indic digit, a no-break space, and ASCII's less common
#: whitespace (tab, the file separator).
ALPHABET = "19 ().+-#\naW@_İΣς٣\u00a0,\t\x1c"
PART = st.text(alphabet=ALPHABET, min_size=0, max_size=12)


def _episode(messages: list[Message]) -> Episode:
    return Episode(episode_id="e", source="sim", domain="retail", messages=messages)


def _view(contents: list[tuple[str, str, dict[str, str] | None]]) -> EpisodeView:
    messages = []
    for n, (role, content, arguments) in enumerate(contents):
        calls = None
        if arguments is not None and role == "assistant":
            calls = [ToolCall(id=f"c{n}", name="find", arguments=arguments)]
        messages.append(Message(role=role, content=content, tool_calls=calls))
    return EpisodeView(_episode(messages), None)


MESSAGES = st.lists(
    st.tuples(
        st.sampled_from(["user", "assistant", "tool"]),
        PART,
        st.none() | st.dictionaries(st.sampled_from(["id", "n"]), PART, max_size=2),
    ),
    max_size=8,
)


@settings(max_examples=400)
@given(MESSAGES, st.text(alphabet=ALPHABET, min_size=1, max_size=6))
def test_known_text_of_each_context_as_if_rendered_whole(
    contents: list[tuple[str, str, dict[str, str] | None]], key: str
) -> None:
    view = _view(contents)
    known = KnownText(view)
    for position in range(len(contents) + 1):
        context = _known_text(view.context_before(position))
        assert known.before(key, position) == (key in context)
        for start in range(len(context)):  # every substring of the context is found
            assert known.before(context[start : start + 4], position)


def test_parts_meeting_digit_to_digit_take_the_whole_context() -> None:
    # "1" + "\n" + "2" normalises to "12": the joined parts would keep the newline
    view = _view([("assistant", "order 1", None), ("tool", "2 items", None), ("user", "x", None)])
    known = KnownText(view)
    assert known.before("12", 2) and _known_text(view.context_before(2)) == "order 12 items"
    assert not known.before("12", 1)
    # a part of separators only lets its neighbours meet: "1\n \n2" normalises to "12"
    view = _view([("assistant", "1", None), ("tool", " ", None), ("assistant", "2", None)])
    assert KnownText(view).before("12", 3)


@pytest.mark.parametrize(
    "gap", [" ", "\t", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "(", ")", ".", "+", "-"]
)
def test_the_quick_test_drops_every_separator_between_digits(gap: str) -> None:
    view = _view([("assistant", f"order #12{gap}34{gap * 2}56", None), ("user", "x", None)])
    assert _known_text(view.context_before(1)) == "order 123456"
    assert KnownText(view).before("123456", 1)


def test_parts_that_do_not_meet_share_one_joined_text() -> None:
    view = _view([("assistant", "Order #W1234567.", None), ("tool", "ok", None)])
    known = KnownText(view)
    assert not known.before("w7654321", 2)  # ruled out without the exact form
    assert known._joined is None
    assert known.before("w1234567", 1) and not known.before("ok", 1)
    assert known._joined == "order w1234567.\nok"


_OLD_CANDIDATE_RE = re.compile(r"[^\s,;:!?()\[\]{}<>\"'`=|/]*[\d@][^\s,;:!?()\[\]{}<>\"'`=|/]*")


@given(st.text(alphabet="a1@ ,.#(/)W_-\n", max_size=40))
def test_candidates_as_the_backtracking_pattern_found_them(text: str) -> None:
    assert rule._CANDIDATE_RE.findall(text) == _OLD_CANDIDATE_RE.findall(text)


def _shape_in_order(token: str) -> str | None:
    for kind, pattern in rule._TOKEN_KINDS:
        if re.fullmatch(pattern, token):
            return kind
    return None


@given(st.text(alphabet="aZW1357#@._-+", max_size=14))
def test_one_pattern_names_the_first_shape_that_fits(token: str) -> None:
    shape = rule._TOKEN_RE.fullmatch(token)
    got = None if shape is None else rule._TOKEN_KINDS[shape.lastindex - 1][0]  # type: ignore[operator]
    assert got == _shape_in_order(token)


def test_shapes_by_hand() -> None:
    found = identifiers("order #W1234567, zip 12345, code EHGLP3, mail A.b@x.io, 555-123-4567")
    assert [(i.kind, i.value, i.key) for i in found] == [
        ("phone", "555-123-4567", "5551234567"),
        ("order id", "#W1234567", "w1234567"),
        ("zip code", "12345", "12345"),
        ("reservation or flight code", "EHGLP3", "ehglp3"),
        ("e-mail", "A.b@x.io", "a.b@x.io"),
    ]
    # 7 digits are a number before a zip code could be; a user id before a code
    assert [(i.kind, i.value) for i in identifiers("item 1234567 for emma_kim_9957")] == [
        ("number", "1234567"),
        ("user id", "emma_kim_9957"),
    ]
    assert identifiers("no digit, no at sign") == ()
    only_phone = identifiers("call (555) 123-4567, thanks")
    assert [(i.kind, i.value) for i in only_phone] == [("phone", "(555) 123-4567")]
    assert [i.value for i in identifiers("a,b;W1234567 x@y.io")] == ["W1234567", "x@y.io"]


@given(st.text(alphabet="1234 .-()+a", max_size=24))
def test_a_phone_number_always_has_the_hint(text: str) -> None:
    if rule.PHONE_RE.search(text):
        assert rule._PHONE_HINT_RE.search(text)


SCALAR = st.one_of(
    st.text(alphabet='a"\\\n é', max_size=4),
    st.integers(-2, 2),
    st.booleans(),
    st.none(),
    st.sampled_from([0.0, -0.0, 1.0, 1e300]),
)
ARGUMENTS = st.dictionaries(
    st.sampled_from(["id", "n", "x"]),
    SCALAR | st.lists(SCALAR, max_size=2) | st.dictionaries(st.just("k"), SCALAR, max_size=1),
    max_size=3,
)


@given(st.lists(ARGUMENTS, min_size=1, max_size=4))
def test_arguments_read_as_their_json(calls: list[dict[str, object]]) -> None:
    import json

    from usi.audit.view import arguments_text

    for n, arguments in enumerate(calls):  # in a row: a cached rendering must not leak over
        call = ToolCall(id=f"c{n}", name="f", arguments=arguments)
        assert arguments_text(call) == json.dumps(arguments, ensure_ascii=False)


def test_equal_but_differently_written_values_are_not_confused() -> None:
    from usi.audit.view import arguments_text

    def text(value: object) -> str:
        return arguments_text(ToolCall(id="c", name="f", arguments={"v": value}))

    assert [text(1), text(True), text(1), text(0.0), text(-0.0)] == [
        '{"v": 1}',
        '{"v": true}',
        '{"v": 1}',
        '{"v": 0.0}',
        '{"v": -0.0}',
    ]


def _identifiers_plain(text: str) -> list[tuple[str, str]]:
    """The rule as first written: phones, then every candidate run of the whole text."""
    found: list[tuple[str, str]] = []
    if rule.PHONE_RE.search(text):
        found.extend(("phone", phone) for phone in rule.PHONE_RE.findall(text))
        text = rule.PHONE_RE.sub(" ", text)
    for candidate in _OLD_CANDIDATE_RE.findall(text):
        token = candidate.rstrip(rule._TRAILING)
        if token.startswith("#") and len(token) > 1 and token[1] not in "Ww":
            token = token[1:]
        kind = _shape_in_order(token)
        if kind is not None:
            found.append((rule._kind(kind, token), token))
    return found


@settings(max_examples=300)
@given(st.text(alphabet="1234567 ,.-()#@aWx_:\n", max_size=40))
def test_identifiers_as_the_plain_rule_finds_them(text: str) -> None:
    assert [(i.kind, i.value) for i in identifiers.__wrapped__(text)] == _identifiers_plain(text)
    assert [i.key for i in identifiers.__wrapped__(text)] == [
        rule.normalise(value) for _, value in _identifiers_plain(text)
    ]
