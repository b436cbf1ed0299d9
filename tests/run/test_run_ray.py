"""The Ray backend on a local instance: same episodes, format and resume (one test: slow start)."""

from __future__ import annotations

from pathlib import Path

import pytest

from usi.data.readers import read_episodes
from usi.run.episode import RoleSettings, RunSettings
from usi.run.runner import run_episodes


@pytest.mark.slow
def test_ray_backend_matches_thread_backend(tmp_path: Path, offline_server) -> None:
    import ray

    offline_server()
    # One local Ray instance for both runs (the runner leaves an instance it did not start alone).
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}},
    )
    try:
        check_ray_runs(tmp_path)
    finally:
        ray.shutdown()


def check_ray_runs(tmp_path: Path) -> None:
    settings = RunSettings(
        domain="airline", agent=RoleSettings("offline/oracle"), user=RoleSettings("offline/terse")
    )
    threads = run_episodes(settings, tmp_path / "t.jsonl", task_ids=["1", "3"], progress=False)
    out = tmp_path / "r.jsonl"
    first = run_episodes(
        settings, out, task_ids=["1"], backend="ray", concurrency=2, progress=False
    )
    assert first.finished == 1
    resumed = run_episodes(
        settings,
        out,
        task_ids=["1", "3"],
        backend="ray",
        concurrency=2,
        resume=True,
        progress=False,
    )
    assert (resumed.skipped, resumed.finished) == (1, 1)
    by_ray = {e.task_id: e for e in read_episodes(out)}
    by_threads = {e.task_id: e for e in read_episodes(threads.out)}
    assert set(by_ray) == {"1", "3"}
    for task_id, ep in by_ray.items():
        twin = by_threads[task_id]
        assert ep.reward == twin.reward and ep.survey == twin.survey
        assert [m.content for m in ep.messages] == [
            m.content for m in twin.messages
        ]  # deterministic
