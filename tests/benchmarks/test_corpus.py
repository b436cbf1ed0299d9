"""The benchmark corpus generator: valid canonical episodes, deterministic, every cue family hit."""

from __future__ import annotations

import sys
from pathlib import Path

from usi.data.readers import read_canonical
from usi.fingerprint import FEATURES, fingerprint_frame

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _corpus import write_corpus


def test_corpus_is_valid_deterministic_and_exercises_every_feature(tmp_path: Path) -> None:
    first = write_corpus(tmp_path / "a.jsonl", 300, seed=7)
    again = write_corpus(tmp_path / "b.jsonl", 300, seed=7)
    other = write_corpus(tmp_path / "c.jsonl", 300, seed=8)
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()

    episodes = list(read_canonical(first))  # validates every line, survey answers included
    assert len(episodes) == 300
    humans = [e for e in episodes if e.is_human]
    simulators = [e for e in episodes if not e.is_human]
    assert humans and simulators
    assert {e.batch for e in humans} == {1, 2, 3}
    assert all(e.batch is None for e in simulators)
    assert {e.domain for e in episodes} == {"airline", "retail"}
    assert {int(e.task_id or -1) for e in episodes} <= set(range(50))
    assert {e.reward for e in episodes} == {0.0, 1.0}
    assert all(e.survey for e in episodes)
    assert all(8 <= len(e.user_turns()) <= 14 for e in episodes)
    assert any(m.role == "tool" for e in episodes for m in e.messages)

    frame = fingerprint_frame(episodes)
    for feature in FEATURES:
        assert frame[feature].max() > 0, f"the corpus never exercises {feature}"
    # People and simulators differ the way the study says: people are terser and less polite.
    is_human = [e.is_human for e in episodes]
    human, sim = frame[is_human].mean(), frame[[not h for h in is_human]].mean()
    assert human["short_utterance_rate"] > sim["short_utterance_rate"]
    assert human["politeness_rate"] < sim["politeness_rate"]
