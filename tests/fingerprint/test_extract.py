"""The 19 features: hand-worked examples, properties, and the fast chunked path vs a plain one."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usi.core.episode import Episode, Message, ToolCall
from usi.fingerprint import (
    FEATURES,
    fingerprint_episode,
    fingerprint_frame,
    fingerprint_turn_lists,
    fingerprint_turns,
    turn_cues,
)
from usi.fingerprint.extract import IDENTIFIER_RE, TOKEN_RE
from usi.fingerprint.lexicons import CUE_BODIES, TURN_SEPARATOR

#: The plain definition of each cue feature (the combined scan must agree with it).
CUE_REGEXES = {feature: re.compile(r"\W" + body) for feature, body in CUE_BODIES.items()}

# --------------------------------------------------------------------------------------------
# A plain, per-turn reference: the definitions of spec §2 written the obvious way.
# --------------------------------------------------------------------------------------------


def reference_fingerprint(turns: Sequence[str]) -> dict[str, float]:
    if not turns:
        return dict.fromkeys(FEATURES, 0.0)
    n = len(turns)
    lowered = [t.lower() for t in turns]
    tokens = [TOKEN_RE.findall(t) for t in lowered]
    lengths = [len(x) for x in tokens]
    total = sum(lengths)
    mean = total / n
    f: dict[str, float] = {}
    f["words_per_turn"] = mean
    f["short_utterance_rate"] = sum(length <= 3 for length in lengths) / n
    for feature, regex in CUE_REGEXES.items():
        hits = sum(bool(regex.search(TURN_SEPARATOR + t)) for t in lowered)
        f[feature] = hits / n
    f["verbosity_cv"] = statistics.pstdev(lengths) / mean if n >= 2 and mean > 0 else 0.0
    grams = [list(zip(x, x[1:], x[2:], strict=False)) for x in tokens]
    counts = Counter(g for turn in grams for g in turn)
    f["repetition_rate"] = sum(any(counts[g] > 3 for g in turn) for turn in grams) / n
    f["front_loading_ratio"] = sum(lengths[:2]) / total if total else 1.0
    f["identifiers_per_turn"] = (
        sum(len(IDENTIFIER_RE.findall(TURN_SEPARATOR + t)) for t in turns) / n
    )
    f["opening_length"] = float(lengths[0])
    return {name: f[name] for name in FEATURES}


def assert_same(fast: dict[str, float], reference: dict[str, float]) -> None:
    for name in FEATURES:
        if name == "verbosity_cv":  # sums in a different order: equal to rounding
            assert math.isclose(fast[name], reference[name], rel_tol=1e-12, abs_tol=1e-12), name
        else:
            assert fast[name] == reference[name], (name, fast[name], reference[name])


# Turns built from cue words, identifiers, punctuation, case and whitespace variants, and noise.
PIECES = [
    "please", "pls", "thanks", "thank", "you", "sorry", "ok", "okay", "yes", "no", "what", "huh",
    "?", "!", ".", ",", ";", "—", "–", "-", "'", "’", "don't", "don’t", "i'm", "that's", "not",
    "right", "sure", "i", "think", "maybe", "idk", "hmm", "100%", "100", "%", "actually",
    "instead", "how", "about", "can", "clarify", "check", "status", "any", "update", "ugh",
    "seriously", "come", "on", "useless", "waste", "of", "time", "let", "me", "that", "for",
    "#W1234567", "EHGLP3", "SEATTLE", "1234567", "mia_li_3668", "a.b@c.com", "displease",
    "know", "got", "it", "sounds", "good", "I", "want", "to", "cancel", "A", "OK", "Thank",
    "PLEASE", "é", "İ", "ß", "_", "@", "#", "\t", "\n", "  ",
]  # fmt: skip
turn_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=14).map(
    lambda parts: " ".join(parts).replace(TURN_SEPARATOR, "")
)
# Episodes repeat some turns so that repetition (a trigram > 3 times) actually happens.
turns_strategy = st.lists(turn_text, max_size=4).flatmap(
    lambda base: st.lists(
        st.one_of(st.sampled_from(base), turn_text) if base else turn_text, max_size=12
    )
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(turn_lists=st.lists(turns_strategy, max_size=6))
def test_chunked_path_equals_plain_reference(turn_lists: list[list[str]]) -> None:
    values = fingerprint_turn_lists(turn_lists)
    assert values.shape == (len(turn_lists), len(FEATURES))
    for row, turns in zip(values, turn_lists, strict=True):
        assert_same(dict(zip(FEATURES, row.tolist(), strict=True)), reference_fingerprint(turns))


@settings(max_examples=100, deadline=None)
@given(turns=turns_strategy)
def test_properties(turns: list[str]) -> None:
    f = fingerprint_turns(turns)
    for name in FEATURES:
        assert math.isfinite(f[name])
        if name.endswith("_rate"):
            assert 0.0 <= f[name] <= 1.0, name
    assert f["words_per_turn"] >= 0 and f["opening_length"] >= 0
    assert f["identifiers_per_turn"] >= 0 and f["verbosity_cv"] >= 0
    assert 0.0 <= f["front_loading_ratio"] <= 1.0
    flags = turn_cues(turns)
    for name, per_turn in flags.items():
        assert per_turn.dtype == np.bool_ and per_turn.shape == (len(turns),)
        if turns:
            assert f[name] == per_turn.sum() / len(turns)


def test_chunk_boundaries_do_not_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    import usi.fingerprint.extract as extract

    turn_lists = [["ok", "thanks a lot"], [], ["what?", "I want to cancel"] * 3, ["A"]] * 5
    whole = fingerprint_turn_lists(turn_lists)
    monkeypatch.setattr(extract, "CHUNK_EPISODES", 3)
    assert np.array_equal(fingerprint_turn_lists(turn_lists), whole)


# --------------------------------------------------------------------------------------------
# Worked by hand
# --------------------------------------------------------------------------------------------


def test_no_user_turns_is_all_zero() -> None:
    assert fingerprint_turns([]) == dict.fromkeys(FEATURES, 0.0)
    assert fingerprint_turn_lists([[], []]).tolist() == [[0.0] * len(FEATURES)] * 2
    assert all(flags.shape == (0,) for flags in turn_cues([]).values())


def test_worked_example_style_and_information() -> None:
    turns = [
        "Hi, please cancel order #W1234567.",  # 6 tokens: hi please cancel order w1234567
        "yes",  # 1 token
        "ok",  # 1
        "my email is mia@example.com",  # 6 tokens: my email is mia example com
    ]
    f = fingerprint_turns(turns)
    # tokens: [5, 1, 1, 6]: "w1234567" is one token, "#" and "." are not word characters.
    assert f["words_per_turn"] == pytest.approx(13 / 4)
    assert f["opening_length"] == 5.0
    assert f["short_utterance_rate"] == 0.5
    assert f["acknowledgment_rate"] == 0.5
    assert f["politeness_rate"] == 0.25
    assert f["identifiers_per_turn"] == 0.5  # #W1234567 and the e-mail
    assert f["front_loading_ratio"] == pytest.approx(6 / 13)  # (5 + 1) / 13
    mean = 13 / 4
    std = math.sqrt(((5 - mean) ** 2 + 2 * (1 - mean) ** 2 + (6 - mean) ** 2) / 4)
    assert f["verbosity_cv"] == pytest.approx(std / mean)


def test_verbosity_cv_by_hand() -> None:
    # lengths 2, 4, 6: mean 4, population std sqrt(8/3), cv = sqrt(8/3) / 4.
    f = fingerprint_turns(["a b", "a b c d", "a b c d e f"])
    assert f["verbosity_cv"] == pytest.approx(math.sqrt(8 / 3) / 4)
    assert fingerprint_turns(["one two three"])["verbosity_cv"] == 0.0  # fewer than 2 turns
    assert fingerprint_turns(["?", "!"])["verbosity_cv"] == 0.0  # no tokens at all


def test_repetition_rate_by_hand() -> None:
    repeated = "i want to cancel"
    # "i want to" occurs 4 times (> 3) in 4 of the 5 turns.
    turns = [repeated, f"{repeated} now", "ok", f"so {repeated}", f"{repeated} please"]
    assert fingerprint_turns(turns)["repetition_rate"] == pytest.approx(4 / 5)
    # 3 occurrences are not "more than 3".
    assert fingerprint_turns(turns[:4])["repetition_rate"] == 0.0
    # Four occurrences inside one turn count too.
    assert fingerprint_turns(["a b c a b c a b c a b c", "x"])["repetition_rate"] == 0.5
    # Trigrams never span turns: "a b" + "c" is not the trigram "a b c".
    assert fingerprint_turns(["a b", "c a b", "c a b", "c a b", "c"])["repetition_rate"] == 0.0


def test_front_loading_by_hand() -> None:
    assert fingerprint_turns(["a b c", "d e", "f g h i j"])["front_loading_ratio"] == 0.5
    assert fingerprint_turns(["only one turn here"])["front_loading_ratio"] == 1.0
    assert fingerprint_turns(["a", "b"])["front_loading_ratio"] == 1.0
    assert fingerprint_turns(["?", "!", "..."])["front_loading_ratio"] == 1.0  # no tokens


def test_tokens_are_lower_cased_word_runs() -> None:
    f = fingerprint_turns(["I'm OK, don’t WORRY!"])
    # i, m, ok, don, t, worry
    assert f["words_per_turn"] == 6.0


# --------------------------------------------------------------------------------------------
# Episodes: only user turns count
# --------------------------------------------------------------------------------------------


def _episode(messages: list[Message], episode_id: str = "e1") -> Episode:
    return Episode(
        episode_id=episode_id, source="human", domain="retail", task_id="3", messages=messages
    )


USER_TURNS = ["Hi, I need to return my order #W1234567 please", "yes", "what?"]


def _noisy_messages(turns: list[str]) -> list[Message]:
    """The turns with control lines, empty turns, agent and tool messages interleaved."""
    messages = [Message(role="user", content="\\tau task_index:retail-3 model:gpt-5.2")]
    for turn in turns:
        messages.append(Message(role="user", content=turn))
        messages.append(
            Message(
                role="assistant",
                content="",
                tool_calls=[ToolCall(id="c1", name="find_user", arguments={"q": "x"})],
            )
        )
        messages.append(
            Message(role="tool", content="thank you for your patience. ok", tool_call_id="c1")
        )
        messages.append(Message(role="assistant", content="How may I help you? Sorry! ok"))
        messages.append(Message(role="user", content="   "))
    messages.append(Message(role="user", content="/stop"))
    messages.append(Message(role="user", content="\\reward"))
    return messages


def test_episode_counts_user_turns_only() -> None:
    plain = _episode([Message(role="user", content=t) for t in USER_TURNS])
    noisy = _episode(_noisy_messages(USER_TURNS))
    assert fingerprint_episode(noisy) == fingerprint_episode(plain)
    assert fingerprint_episode(noisy) == fingerprint_turns(USER_TURNS)
    assert fingerprint_episode(noisy)["identity_confusion_rate"] == 0.0


@settings(max_examples=40, deadline=None)
@given(turns=st.lists(turn_text.filter(lambda t: t.strip()), max_size=6))
def test_invariant_to_agent_tool_and_control_messages(turns: list[str]) -> None:
    turns = [t for t in turns if not t.strip().startswith(("\\tau ", "\\reward", "/stop"))]
    plain = _episode([Message(role="user", content=t) for t in turns])
    noisy = _episode(_noisy_messages(turns))
    assert fingerprint_episode(noisy) == fingerprint_episode(plain)


def test_frame_contract() -> None:
    episodes = [
        _episode([Message(role="user", content=t) for t in USER_TURNS], "a"),
        _episode([Message(role="assistant", content="Hello, how can I help?")], "b"),
        _episode(_noisy_messages(["ok", "thanks"]), "c"),
    ]
    frame = fingerprint_frame(episodes)
    assert list(frame.columns) == list(FEATURES)
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert len(frame) == 3 and list(frame.index) == [0, 1, 2]
    assert frame.iloc[0].to_dict() == fingerprint_episode(episodes[0])
    assert (frame.iloc[1] == 0.0).all()  # no user turns
    assert frame.iloc[2]["acknowledgment_rate"] == 0.5
    empty = fingerprint_frame([])
    assert list(empty.columns) == list(FEATURES) and len(empty) == 0
    assert all(dtype == np.float64 for dtype in empty.dtypes)
    assert isinstance(empty, pd.DataFrame)
