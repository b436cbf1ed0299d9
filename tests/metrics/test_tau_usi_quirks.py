"""Each quirk of the paper's definitions, on small fixtures worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from usi.core.episode import Episode, Message
from usi.data.paper import episode_turns, raw_turns
from usi.fingerprint.tau_usi.features import FEATURES, SCORED, conversation_features
from usi.fingerprint.tau_usi.frame import feature_frame
from usi.metrics.tau_usi.compute import Tables, bin_index, ece_pair
from usi.metrics.tau_usi.score import score_simulator
from usi.metrics.tau_usi.sides import human_side, simulator_side
from usi_main import run_usi


def test_a_glued_stop_token_is_a_word_a_standalone_one_is_meta() -> None:
    conversation = [
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "cancel it ###STOP###"},
        {"role": "user", "content": "  ###STOP###  "},
    ]
    turns, n_turns = raw_turns(conversation, human=False)
    assert turns == ["cancel it ###STOP###"] and n_turns == 2
    features = conversation_features(turns, n_turns)
    assert features is not None
    assert features["user_words_per_turn"] == 3.0  # "cancel", "it", "###STOP###"
    assert features["short_msg_rate"] == 1.0  # 3 words ≤ 3


def test_question_types_are_mutually_exclusive_in_order() -> None:
    # "are you sure" is pushback, and the same turn also asks "what do you mean" and
    # "how much": only pushback counts. The second turn is clarification and information:
    # only clarification counts. The third is information only.
    turns = [
        "are you sure? what do you mean, how much is it",
        "what do you mean by how much",
        "how much is it",
        "ok",
    ]
    features = conversation_features(turns, 8)
    assert features is not None
    assert (features["pushback_q_rate"], features["clarify_q_rate"], features["info_q_rate"]) == (
        0.25,
        0.25,
        0.25,
    )


def test_repeat_is_a_flag_set_by_a_trigram_seen_eleven_times() -> None:
    ten = ["i want refund"] * 10
    eleven = ["i want refund"] * 11
    assert conversation_features(ten, 10)["repeat_rate"] == 0.0  # type: ignore[index]
    features = conversation_features(eleven, 11)
    assert features is not None
    assert features["repeat_rate"] == 1.0  # a flag, not 11/11 of turns counted


def test_no_user_turn_gives_no_features() -> None:
    assert conversation_features([], 3) is None


def test_difficulty_bins_put_a_cut_off_value_in_the_bin_above() -> None:
    assert [bin_index(v) for v in (0.0, 0.19999, 0.2, 0.4, 0.79, 0.8, 1.0)] == [0, 0, 1, 2, 3, 4, 4]


def test_ece_by_hand() -> None:
    # bin 0 (difficulty .1): tasks a, b — sim 1, 1; human 1, 0 → |1 − .5| = .5, weight 2/3
    # bin 4 (difficulty .9): task c — sim 0, human 1 → 1, weight 1/3; task d is not in the map
    tables = Tables(np.zeros((0, len(SCORED))), {"a": 0, "b": 1, "c": 2, "d": 3}, np.ones((1, 4)))
    sim = {"a": 1, "b": 1, "c": 0, "d": 1}
    hum = {"a": 1, "b": 0, "c": 1, "d": 0}
    difficulty = {"a": 0.1, "b": 0.1, "c": 0.9}
    assert ece_pair(tables, sim, hum, difficulty)[0] == pytest.approx(2 / 3 * 0.5 + 1 / 3 * 1.0)


def _episode(source: str, key: str, text: str, **meta: object) -> Episode:
    domain, index = key.split("_")[:2]
    return Episode(
        episode_id=key + ("" if source == "human" else f"_{source}"),
        source=source,
        batch=int(meta.pop("batch", 1)) if source == "human" else None,  # type: ignore[call-overload]
        domain=domain,
        messages=[Message(role="user", content=text)],
        reward=float(meta.pop("reward", 1.0)),  # type: ignore[arg-type]
        metadata={"tau_index": int(index), **meta},
    )


def _table(episodes: list[Episode]) -> pd.DataFrame:
    from usi.inputs.frame import episode_frame

    return pd.concat([episode_frame(episodes), feature_frame(episodes)], axis=1)


def test_keep_false_is_left_out_and_counted() -> None:
    human = _table(
        [
            _episode("human", "retail_1", "hello there"),
            _episode("human", "retail_2", "hello there", keep=False),
            _episode("human", "retail_3", "hello there", keep=None),
        ]
    )
    side = human_side(human)
    assert list(side.rows[0]) == ["retail_1"]
    assert side.left_out == {"keep false": 2}  # null is not kept either, as in the reference


def test_a_usi_run_is_grouped_by_trial_and_a_task_without_index_is_counted() -> None:
    sim = _table(
        [
            _episode("sim", "retail_1", "hi", trial=0),
            _episode("sim", "retail_1", "hi", trial=1),
        ]
    )
    sim.loc[len(sim)] = sim.iloc[0]
    sim.loc[len(sim) - 1, "tau_key"] = None
    side = simulator_side(sim)
    assert side.row_runs == [{"retail_1": 0}, {"retail_1": 1}]
    assert sorted(side.ece_runs) == [1, 2]
    assert side.left_out == {"no tau-usi index": 1}


def test_a_small_paper_file_with_run_suffixes_matches_no_human() -> None:
    """≤ 170 entries: one run keyed by the ids as written (the reference's split rule)."""
    sim = _table([_episode("sim", "retail_1", "hi"), _episode("sim", "retail_2", "hi")])
    sim["instance_id"] = ["retail_1_1", "retail_2_1"]
    side = simulator_side(sim)
    assert side.row_runs == [{"retail_1_1": 0, "retail_2_1": 1}]
    assert side.ece_runs == {1: {"retail_1": 1, "retail_2": 1}}


def test_a_run_with_no_overlap_gives_no_row() -> None:
    human = _table([_episode("human", "retail_1", "hello")])
    sim = _table([_episode("sim", "retail_9", "hello")])
    result = score_simulator(sim, human, "sim", n_bootstrap=0)
    assert result.usi.value is None
    assert result.paper_row.D1_conv is None and result.paper_row.ece is None


def test_missing_eval_field_is_filled_from_the_seeded_generator() -> None:
    """The one field the rater left out is drawn from default_rng(42): levels of reuse 1–5."""
    human_ep = _episode("human", "retail_1", "hello")
    human_ep.survey = {"reuse": "Yes", "human_like": "Yes"}
    human = _table([human_ep])
    ratings = {(1, "retail_1"): {"human_like": "No"}}  # reuse missing
    from usi.metrics.tau_usi.evaluation import session_agreements

    drawn = int(np.random.default_rng(42).choice([1, 2, 3, 4, 5]))
    expected = (1 - np.mean([abs(0.75 - (drawn - 1) / 4), abs(1.0 - 0.0)])) * 100
    side = human_side(human)
    positions = {0: list(human[[c for c in human.columns if c.startswith("survey_")]].iloc[0])}
    [[(key, agreement)]] = session_agreements(side, positions, ratings)
    assert key == "retail_1"
    assert agreement == pytest.approx(expected)


def test_features_have_the_papers_twenty_names() -> None:
    assert len(FEATURES) == 20 and FEATURES[0] == "n_turns"
    episode = _episode("sim", "retail_1", "please help — now", ended_by="###STOP###")
    turns, n_turns = episode_turns(episode)
    assert turns == ["please help — now ###STOP###"] and n_turns == 1


def test_the_papers_results_format_round_trips(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """results JSON → canonical JSONL → results JSON gives the same entries, token as written."""
    import json

    document = {
        "retail_1": {
            "instance_id": "retail_1",
            "conversation": [
                {"role": "assistant", "content": "Hi! How can I help you today?"},
                {"role": "user", "content": "thanks — cancel it ###STOP###"},
                {
                    "role": "assistant",
                    "content": "<function=f>\n<parameter=a>1</parameter>\n</function>done",
                },
                {"role": "user", "content": "###STOP###"},
            ],
            "survey": {
                "reuse": {
                    "question": "If you encounter similar problems in life, "
                    "would you like to reuse this agent?",
                    "answer": "Yes",
                }
            },
            "reward": 1.0,
            "keep": False,
        }
    }
    source = tmp_path / "eval_results_mine.json"
    source.write_text(json.dumps(document))

    assert run_usi(capsys, "data", "convert", source, "-o", tmp_path / "c.jsonl")[0] == 0
    code, _, _ = run_usi(
        capsys,
        "data",
        "convert",
        tmp_path / "c.jsonl",
        "--to",
        "tau-usi-results",
        "-o",
        tmp_path / "back.json",
    )
    assert code == 0
    back = json.loads((tmp_path / "back.json").read_text())
    assert back == document


def test_a_score_is_placed_among_the_published_rows() -> None:
    from usi.metrics.tau_usi.score import _placement

    middle = _placement(72.0, True, None)
    assert middle is not None
    assert (middle.above, middle.below, middle.rank, middle.of) == (
        "Gemini-2.0-Flash",
        "OSim-8B (v6, 5 terms, no Eval)",
        3,
        8,
    )
    last = _placement(50.0, False, "small")
    assert last is not None
    assert (last.above, last.below, last.rank, last.of) == ("GPT-4o", None, 8, 8)


def test_a_task_outside_the_difficulty_map_is_out_of_the_ece_and_counted() -> None:
    human = _table(
        [_episode("human", "retail_1", "hello there"), _episode("human", "retail_2", "hi")]
    )
    sim = _table(
        [
            _episode("sim", "retail_1", "hello there", reward=0.0),
            _episode("sim", "retail_2", "hi", reward=0.0),
        ]
    )
    difficulty = ({"retail_1": 0.5}, "test:0")  # retail_2 is not in the map
    result = score_simulator(sim, human, "sim", difficulty=difficulty, n_bootstrap=0)
    assert result.paper_row.ece == (1.0, 0.0)  # retail_1 alone: |0 − 1|
    assert result.tasks.not_in_map == 1
    assert result.paper_row.D1_conv == (100.0, 0.0)  # the rows still use both tasks


def test_an_old_run_without_a_key_is_keyed_by_its_tau2_task() -> None:
    from usi.data.paper import tau_key

    episode = Episode(
        episode_id="e",
        source="sim",
        domain="retail",
        task_id="96",  # τ² dropped τ-bench retail 95: τ² 96 is the study's 97
        messages=[],
    )
    assert tau_key(episode) == "retail_97"


def test_divergences_name_the_behaviour_in_words() -> None:
    human = _table(
        [
            _episode("human", "retail_1", "i want a refund"),
            _episode("human", "retail_2", "yes i agree"),
        ]
    )
    sim = _table(
        [
            _episode("sim", "retail_1", "please i want a refund"),
            _episode("sim", "retail_2", "yes i agree please"),
        ]
    )
    result = score_simulator(sim, human, "sim", n_bootstrap=0)
    top = result.divergences[0]  # a relative gap of 1.0, like short turns (ties by name)
    assert (top.behaviour, top.simulator, top.human) == ("politeness_rate", 1.0, 0.0)
    assert top.text == "polite in 100% of turns vs 0% for people"
    assert "task_success" not in {d.behaviour for d in result.divergences}  # both succeed


def test_people_cannot_be_written_as_a_simulators_results(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]

    from usi.data.io import write_episodes

    source = tmp_path / "human.jsonl"
    write_episodes(source, [_episode("human", "retail_1", "hello")])
    out = tmp_path / "results.json"
    code, _, stderr = run_usi(
        capsys, "data", "convert", source, "--to", "tau-usi-results", "-o", out
    )
    err = stderr.strip().splitlines()
    assert code == 2 and not out.exists()
    assert err == [
        f"usi: error: {source}:retail_1: a human session: the results format holds one "
        "simulator's runs"
    ]


def test_the_signature_names_the_run_protocol_and_agent() -> None:
    human = _table([_episode("human", "retail_1", "hello there")])
    tau2_run = _table(
        [_episode("sim", "retail_1", "hello", protocol="tau2", agent_model="openai/gpt-4.1")]
    )
    result = score_simulator(tau2_run, human, "sim", n_bootstrap=0)
    assert result.signature.endswith("|protocol:tau2|agent:openai/gpt-4.1|usi:0.1.0")
    assert any(n.startswith("run protocol tau2: the paper's simulators ran") for n in result.notes)
    assert any(
        n.startswith("agent openai/gpt-4.1: the paper's agent was GPT-5.2") for n in result.notes
    )
    paper_run = _table(
        [_episode("sim", "retail_1", "hello", protocol="tau-usi", agent_model="openai/gpt-5.2")]
    )
    notes = score_simulator(paper_run, human, "sim", n_bootstrap=0).notes
    assert not any("protocol" in n or "agent" in n for n in notes)


def test_a_simulators_unkept_entries_are_counted() -> None:
    sim = _table([_episode("sim", "retail_1", "hi"), _episode("sim", "retail_2", "hi", keep=False)])
    sim["instance_id"] = ["retail_1", "retail_2"]
    side = simulator_side(sim)
    assert side.left_out == {"keep false": 1}
    assert side.row_runs == [{"retail_1": 0}]  # out of the rows ...
    assert side.ece_runs == {1: {"retail_1": 1}}  # ... and, being false (not null), of the ECE
