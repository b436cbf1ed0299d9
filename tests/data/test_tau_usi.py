"""The tau-usi reader: hand-made sessions with full markup, malformed variants, the real sample."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from data_fixtures import TAU_USI_SMALL
from usi.core.episode import Episode, is_user_content
from usi.core.survey import FREE_TEXT_IDS, SURVEY_ITEM_IDS
from usi.data.readers import EpisodeFormat, detect_format, read_episodes
from usi.data.tau_usi import read_tau_usi
from usi.errors import UsiInputError
from usi.tau.align import AlignmentWarning


def _read(path: Path) -> dict[str, Episode]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlignmentWarning)
        return {e.episode_id: e for e in read_tau_usi(path)}


@pytest.fixture(scope="module")
def small() -> dict[str, Episode]:
    return _read(TAU_USI_SMALL)


def _mutated(tmp_path: Path, change: Any) -> Path:
    document = json.loads(TAU_USI_SMALL.read_text())
    change(document)
    path = tmp_path / "mutated.json"
    path.write_text(json.dumps(document))
    return path


def test_detected_as_tau_usi() -> None:
    assert detect_format(TAU_USI_SMALL) is EpisodeFormat.TAU_USI


def test_one_episode_per_session_with_ids_batches_domains(small: dict[str, Episode]) -> None:
    assert list(small) == [
        "airline_0",
        "airline_0_ann2",
        "retail_5_ann3",
        "retail_120",
        "airline_7",
    ]
    assert {k: e.batch for k, e in small.items()} == {
        "airline_0": 1,
        "airline_0_ann2": 2,
        "retail_5_ann3": 3,
        "retail_120": 1,
        "airline_7": 1,
    }
    assert {e.domain for e in small.values()} == {"airline", "retail"}
    assert all(e.source == "human" and e.is_human for e in small.values())
    assert small["retail_5_ann3"].reward == 1.0 and small["airline_0"].reward == 0.0


def test_task_ids_from_index_and_entities(small: dict[str, Episode]) -> None:
    assert small["retail_5_ann3"].task_id == "5"
    assert small["airline_0"].task_id == "20"  # mia_li_3668, New York → Seattle
    assert small["airline_0_ann2"].task_id == "20"
    assert small["retail_120"].task_id is None  # τ² retail has tasks 0–113 only
    assert small["airline_7"].task_id is None  # no τ² task names this user


def test_unaligned_sessions_warn_with_their_id() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(read_tau_usi(TAU_USI_SMALL))
    messages = [str(w.message) for w in caught if issubclass(w.category, AlignmentWarning)]
    assert len(messages) == 2
    assert messages[0].startswith("retail_120:") and "no task 120" in messages[0]
    assert messages[1].startswith("airline_7:")


def test_survey_answers_and_free_text(small: dict[str, Episode]) -> None:
    survey = small["airline_0"].survey
    assert survey is not None
    assert set(survey) == set(SURVEY_ITEM_IDS) | set(FREE_TEXT_IDS)
    assert survey["overall_score"] == "2 (Poor)"
    assert survey["specific_examples"] == "It asked for my zip twice."
    assert small["airline_0_ann2"].survey is not None
    assert small["airline_0_ann2"].survey["improvement_suggestions"] == ""
    assert small["retail_120"].survey is None  # null survey
    assert small["airline_7"].survey is None  # empty survey object


def test_metadata_from_session_and_canvas(small: dict[str, Episode]) -> None:
    meta = small["retail_5_ann3"].metadata
    assert meta["tau_index"] == 5
    assert meta["platform_task_id"] == 9003
    assert meta["instance_id"] == "retail_5"
    assert meta["agent_id"] == "agent-origin"
    assert meta["agent_model"] == "gpt-5.2"
    assert meta["quality_score"] == 55.0
    assert meta["quality_passed"] is False and meta["keep"] is False
    assert meta["instruction"].startswith("You are mei_kovacs_8020 living in zip 28236.")
    assert "role-playing" not in meta["instruction"]
    assert meta["first_message"] == "hey, can i exchange two things from an order?"
    assert small["airline_0"].metadata["human_score"] == 4
    assert small["airline_0"].metadata["llm_reasoning"] == "Stayed on script."
    assert small["airline_0"].metadata["alignment"]["method"] == "entities"


def test_user_messages_are_the_participants_words_only(small: dict[str, Episode]) -> None:
    episode = small["retail_5_ann3"]
    assert episode.user_turns() == [
        "hey can i exchange 2 things",
        "mei_kovacs_8020",
        "the bottle and the lamp. bigger bottle, dimmer lamp",
        "thx",
    ]
    # Nothing of the protocol survives: no set-up line, /stop, \reward. A blank message the
    # participant sent stays (the paper counts it as a turn of 0 words, spec §10.2), and
    # usi-v2's user turns leave it out (spec §1).
    for e in small.values():
        users = [m.content for m in e.messages if m.role == "user"]
        assert not any(u.startswith(("\\tau", "\\reward", "/stop")) for u in users)
        assert all(t.strip() for t in e.user_turns())


def test_agent_markup_becomes_tau2_shaped_messages(small: dict[str, Episode]) -> None:
    shape = [
        (m.role, m.content, [c.name for c in m.tool_calls or []], m.tool_call_id)
        for m in small["retail_5_ann3"].messages
        if m.role != "user"
    ]
    assert shape == [
        ("assistant", "Hi! How can I help?", [], None),  # greeting after the canvas
        ("assistant", "Sure. What is your user id or email?", [], None),  # think dropped
        ("assistant", "Let me look that up.", ["get_user_details"], None),
        ("tool", '{"user_id": "mei_kovacs_8020", "orders": ["#W7800651"]}', [], "call_1"),
        ("assistant", "", ["get_order_details", "calculate"], None),
        ("tool", '{"order_id": "#W7800651", "status": "delivered"}', [], "call_2"),
        ("tool", "34.5", [], "call_3"),
        ("assistant", "I found order **#W7800651** (delivered). Which items?", [], None),
        ("assistant", "", ["exchange_delivered_order_items"], None),
        ("tool", '{"status": "exchange requested"}', [], "call_4"),
        ("assistant", "Done: the exchange is requested.", [], None),  # unclosed think cut
        ("assistant", "You're welcome!", [], None),  # survey form and reward banner dropped
    ]
    texts = " ".join(m.content for e in small.values() for m in e.messages)
    assert not re.search(r"<\|(think|canvas|tool|survey|highlight)\|>|<function=|Reward:", texts)


def test_tool_call_ids_link_results_and_are_unique(small: dict[str, Episode]) -> None:
    for episode in small.values():
        ids = [c.id for m in episode.messages for c in m.tool_calls or []]
        assert len(ids) == len(set(ids))
        answered = [m.tool_call_id for m in episode.messages if m.role == "tool"]
        assert answered == ids


def test_parameter_values_decoded_by_tau2_signature(small: dict[str, Episode]) -> None:
    calls = {
        c.name: c.arguments for m in small["airline_0_ann2"].messages for c in m.tool_calls or []
    }
    booking = calls["book_reservation"]
    assert booking["flights"] == [{"flight_number": "HAT136", "date": "2024-05-20"}]
    assert booking["total_baggages"] == 3  # declared int → decoded
    assert booking["insurance"] == "no"
    assert calls["send_certificate"] == {"user_id": "mia_li_3668", "amount": 50}
    retail = {
        c.name: c.arguments for m in small["retail_5_ann3"].messages for c in m.tool_calls or []
    }
    exchange = retail["exchange_delivered_order_items"]
    assert exchange["item_ids"] == ["7843064651", "8384507844"]
    assert retail["calculate"] == {"expression": "24.5 + 10"}


def test_declared_text_parameter_is_not_decoded(tmp_path: Path) -> None:
    def numeric_zip(doc: dict[str, Any]) -> None:
        doc["retail_5_ann3"]["conversation"][6]["content"] = (
            "<function=find_user_id_by_name_zip>\n<parameter=first_name>Mei</parameter>\n"
            "<parameter=last_name>Kovacs</parameter>\n<parameter=zip>28236</parameter>\n</function>"
            "<|tool|>mei_kovacs_8020<|/tool|>"
            "<function=no_such_tool>\n<parameter=count>7</parameter>\n</function><|tool|>x<|/tool|>"
        )

    episode = _read(_mutated(tmp_path, numeric_zip))["retail_5_ann3"]
    calls = {c.name: c.arguments for m in episode.messages for c in m.tool_calls or []}
    assert calls["find_user_id_by_name_zip"]["zip"] == "28236"
    assert calls["no_such_tool"] == {"count": 7}  # unknown tool: JSON decoding only


def _expect_error(path: Path, *fragments: str) -> UsiInputError:
    with pytest.raises(UsiInputError) as info:
        _read(path)
    line = info.value.one_line()
    assert "\n" not in line and line.startswith(str(path))
    for fragment in fragments:
        assert fragment in line
    return info.value


def test_unknown_survey_option_names_file_and_session(tmp_path: Path) -> None:
    def bad(doc: dict[str, Any]) -> None:
        doc["airline_0_ann2"]["survey"]["human_like"]["answer"] = "Very human"

    _expect_error(_mutated(tmp_path, bad), ":airline_0_ann2:", "'Very human'", "human_like")


def test_unknown_survey_item_is_an_error(tmp_path: Path) -> None:
    def bad(doc: dict[str, Any]) -> None:
        doc["airline_0"]["survey"]["mood"] = {"question": "?", "answer": "Good"}

    _expect_error(_mutated(tmp_path, bad), ":airline_0:", "unknown survey item 'mood'")


@pytest.mark.parametrize("conversation", [None, [], "hello"])
def test_session_without_conversation(tmp_path: Path, conversation: Any) -> None:
    def bad(doc: dict[str, Any]) -> None:
        if conversation is None:
            del doc["retail_120"]["conversation"]
        else:
            doc["retail_120"]["conversation"] = conversation

    _expect_error(_mutated(tmp_path, bad), ":retail_120:", "no conversation")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("<function=get_user_details>\n<parameter=user_id>x</parameter>\n", "'<function='"),
        ("text <|tool|>result without end", "'<|tool|>'"),
        ("<function=f>\ngarbage<parameter=a>1</parameter>\n</function>", "malformed tool call"),
        ("<|canvas|>card that never closes", "'<|canvas|>'"),
    ],
)
def test_malformed_markup_names_session_and_message(
    tmp_path: Path, content: str, fragment: str
) -> None:
    def bad(doc: dict[str, Any]) -> None:
        doc["retail_5_ann3"]["conversation"][3]["content"] = content

    _expect_error(_mutated(tmp_path, bad), ":retail_5_ann3 message 3:", fragment)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.update({"retail-5": d.pop("retail_120")}), "session id is not"),
        (lambda d: d["airline_7"].update({"reward": "one"}), "reward must be a number"),
        (
            lambda d: d["airline_7"]["conversation"].append({"role": "system", "content": "x"}),
            "unknown role",
        ),
        (lambda d: d["airline_7"]["conversation"].append(["user", "x"]), "not a JSON object"),
        (lambda d: d["airline_7"].update({"survey": ["Yes"]}), "survey is not a JSON object"),
    ],
)
def test_other_malformed_sessions(tmp_path: Path, change: Any, fragment: str) -> None:
    _expect_error(_mutated(tmp_path, change), fragment)


def test_real_sample_all_sessions(tau_usi_sample: Path) -> None:
    episodes = _read(tau_usi_sample)
    assert len(episodes) == 89
    assert {e.batch for e in episodes.values()} == {1, 2}
    by_domain = {d: sum(e.domain == d for e in episodes.values()) for d in ("airline", "retail")}
    assert by_domain == {"airline": 41, "retail": 48}
    for episode in episodes.values():
        assert episode.survey is not None and set(SURVEY_ITEM_IDS) <= set(episode.survey)
        turns = episode.user_turns()
        assert turns, episode.episode_id
        # Kept for the paper's definitions (which count "/Stop" and blank turns) but not turns
        # of usi-v2's: every other user message, verbatim.
        spoken = [
            m.content for m in episode.messages if m.role == "user" and is_user_content(m.content)
        ]
        assert turns == spoken
        assert not any(
            t.strip().startswith(("\\tau", "\\reward")) or t.strip() == "/stop" for t in turns
        )
        assert episode.metadata["agent_model"] == "gpt-5.2"
        assert episode.metadata["instruction"] and episode.metadata["first_message"]
    assert episodes["airline_0"].task_id == "20"
    assert episodes["airline_0_ann2"].task_id == "20"
    aligned = [e for e in episodes.values() if e.task_id is not None]
    assert len(aligned) == 89
    # Two sessions (the study's airline index 8) are resolved by the one-to-one rule.
    one_to_one = sorted(
        k for k, e in episodes.items() if e.metadata["alignment"]["method"] == "entities+one-to-one"
    )
    assert one_to_one == ["airline_8", "airline_8_ann2"]
    assert episodes["airline_8"].task_id == "14" and episodes["airline_9"].task_id == "23"
    # The study's τ-bench airline indices map to distinct τ² tasks.
    airline = {
        (e.metadata["tau_index"], e.task_id) for e in episodes.values() if e.domain == "airline"
    }
    assert len(airline) == len({i for i, _ in airline}) == len({t for _, t in airline})
    assert all(
        e.task_id == str(e.metadata["tau_index"]) for e in episodes.values() if e.domain == "retail"
    )


def test_read_episodes_dispatches_to_this_reader() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlignmentWarning)
        episodes = read_episodes(TAU_USI_SMALL)
    assert [e.episode_id for e in episodes][:2] == ["airline_0", "airline_0_ann2"]
