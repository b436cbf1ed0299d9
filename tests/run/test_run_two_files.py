"""The two files one ``usi run`` writes tell the same story about every episode."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from usi.data.readers import EpisodeFormat, detect_format, read_episodes
from usi.fingerprint.extract import fingerprint_frame
from usi.run.episode import RoleSettings, RunSettings
from usi.run.runner import run_episodes


def test_jsonl_and_tau2_json_give_equal_episodes_and_features(
    offline_server, tmp_path: Path
) -> None:
    """Same run read from OUT.jsonl and OUT.tau2.json: same turns, same 19 features.

    Before the one converter, ``###STOP###`` stayed in OUT.jsonl's user turns and was
    stripped from OUT.tau2.json, so short_utterance_rate and others differed.
    """
    offline_server()
    settings = RunSettings(
        domain="airline",
        agent=RoleSettings("offline/oracle", temperature=0.0),
        user=RoleSettings("offline/terse", temperature=0.0),
        survey=False,
    )
    out = tmp_path / "out.jsonl"
    summary = run_episodes(settings, out, task_ids=["1", "3", "20"], progress=False)
    assert summary.tau2_results is not None
    assert detect_format(summary.tau2_results) is EpisodeFormat.TAU2_RESULTS
    canonical = {e.episode_id: e for e in read_episodes(out)}
    exported = {e.episode_id: e for e in read_episodes(summary.tau2_results)}
    assert sorted(canonical) == sorted(exported) and len(canonical) == 3
    ids = sorted(canonical)
    assert any(canonical[i].metadata["ended_by"] == "###STOP###" for i in ids)
    for episode_id in ids:
        a, b = canonical[episode_id], exported[episode_id]
        assert a.messages == b.messages
        assert (a.source, a.task_id, a.reward, a.survey) == (
            b.source,
            b.task_id,
            b.reward,
            b.survey,
        )
        assert a.metadata["ended_by"] == b.metadata["ended_by"]
        assert a.metadata["termination"] == b.metadata["termination"]
        assert all("###" not in turn for turn in a.user_turns())
    left = fingerprint_frame([canonical[i] for i in ids]).to_numpy()
    right = fingerprint_frame([exported[i] for i in ids]).to_numpy()
    np.testing.assert_array_equal(left, right)
