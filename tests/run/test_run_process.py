"""The offline server in its own process, and the process backend that shares it."""

from __future__ import annotations

from pathlib import Path

import litellm

from usi.data.readers import read_episodes
from usi.llm.models import completion_kwargs
from usi.llm.offline.server import (
    OfflineConfig,
    OfflineServerProcess,
    default_server,
    set_default_server,
)
from usi.run.backends import worker_threads
from usi.run.episode import RoleSettings, RunSettings
from usi.run.runner import run_episodes


def test_server_process_handshake_faults_counters_and_shutdown() -> None:
    server = OfflineServerProcess(
        OfflineConfig(fault_schedule={1: "429"}, fault_roles=frozenset({"agent"}))
    )
    previous = set_default_server(server)
    try:
        kwargs = completion_kwargs("offline/oracle", task=("retail", "0"))
        assert kwargs["api_base"] == server.api_base
        reply = litellm.completion(
            messages=[{"role": "user", "content": "hi"}], num_retries=2, **kwargs
        )
        assert "could you please tell me" in (reply.choices[0].message.content or "").lower()
        assert server.faults_injected == {"429": 1} and server.requests == 2
        # A worker process attaches by URL and sees (and adds to) the same counters.
        attached = OfflineServerProcess(api_base=server.api_base)
        attached.set_latency(1.0)
        assert attached.stats()["requests"] == 2
        attached.close()  # not the owner: the server keeps running
        assert server.requests == 2
        process = server._process
        assert process is not None
    finally:
        set_default_server(previous)
        server.close()
    assert process.poll() is not None  # closing our pipe ended the child


def test_default_server_runs_out_of_process(monkeypatch) -> None:
    monkeypatch.delenv("USI_OFFLINE_API_BASE", raising=False)
    previous = set_default_server(None)
    try:
        server = default_server()
        assert isinstance(server, OfflineServerProcess) and server._process is not None
        assert server.requests == 0
    finally:
        set_default_server(previous)
        server.close()


def test_process_backend_matches_threads_and_resumes(tmp_path: Path, offline_server) -> None:
    server = offline_server()
    settings = RunSettings(
        domain="airline", agent=RoleSettings("offline/oracle"), user=RoleSettings("offline/terse")
    )
    threads = run_episodes(settings, tmp_path / "t.jsonl", task_ids=["1", "3"], progress=False)
    before = server.requests
    out = tmp_path / "p.jsonl"
    first = run_episodes(
        settings, out, task_ids=["1"], backend="process", concurrency=3, progress=False
    )
    assert first.finished == 1 and server.requests > before  # workers used this server
    resumed = run_episodes(
        settings,
        out,
        task_ids=["1", "3"],
        backend="process",
        concurrency=3,
        resume=True,
        progress=False,
    )
    assert (resumed.skipped, resumed.finished) == (1, 1)
    assert resumed.tau2_results is not None and resumed.tau2_results.exists()
    by_process = {e.task_id: e for e in read_episodes(out)}
    by_threads = {e.task_id: e for e in read_episodes(threads.out)}
    assert set(by_process) == {"1", "3"}
    for task_id, ep in by_process.items():
        twin = by_threads[task_id]
        assert ep.reward == twin.reward and ep.survey == twin.survey
        assert [m.content for m in ep.messages] == [m.content for m in twin.messages]


def test_auto_backend_uses_processes_only_when_one_core_would_limit_the_run(monkeypatch) -> None:
    from usi.run import backends

    monkeypatch.setattr(backends, "usable_cores", lambda: 2)
    limit = backends.AUTO_PROCESS_CONCURRENCY
    assert backends.resolve_backend("auto", limit, 100) == "process"
    assert backends.resolve_backend("auto", limit - 1, 100) == "thread"
    assert backends.resolve_backend("auto", 64, limit - 1) == "thread"  # few episodes left
    assert backends.resolve_backend("thread", 64, 100) == "thread"
    assert backends.resolve_backend("ray", 1, 1) == "ray"
    monkeypatch.setattr(backends, "usable_cores", lambda: 1)
    assert backends.resolve_backend("auto", 64, 100) == "thread"


def test_auto_backend_run_is_the_thread_run_for_a_small_plan(
    tmp_path: Path, offline_server
) -> None:
    offline_server()
    settings = RunSettings(
        domain="retail",
        agent=RoleSettings("offline/oracle", temperature=0.0),
        user=RoleSettings("offline/cooperative", temperature=0.0),
    )
    summary = run_episodes(
        settings, tmp_path / "out.jsonl", task_ids=["0"], backend="auto", progress=False
    )
    assert summary.backend == "thread" and summary.finished == 1


_QUIET_PARENT = """
if __name__ == "__main__":
    import sys
    from loguru import logger

    logger.remove()  # the caller's own choice, made in the parent only
    from usi.run.episode import RoleSettings, RunSettings
    from usi.run.runner import run_episodes

    settings = RunSettings(
        domain="retail", agent=RoleSettings("offline/oracle"), user=RoleSettings("offline/terse")
    )
    summary = run_episodes(
        settings, sys.argv[1], task_ids=["0"], backend="process", concurrency=2, progress=False
    )
    print(summary.finished)
"""


def test_process_workers_do_not_print_tau2_logs(tmp_path: Path) -> None:
    """A spawned worker must not inherit loguru's default handler while it loads the settings.

    Unpickling the run settings imports τ²; done before the worker silences loguru, every
    episode printed τ²'s DEBUG lines (each tool response) to the caller's stderr.
    """
    import os
    import subprocess
    import sys

    script = tmp_path / "caller.py"
    script.write_text(_QUIET_PARENT)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("USI_OFFLINE_API_BASE", None)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "out.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"
    assert "tau2" not in done.stderr, done.stderr[:2000]


def test_worker_threads_spread_the_concurrency_over_at_most_one_worker_per_core(
    monkeypatch,
) -> None:
    from usi.run import backends

    monkeypatch.setattr(backends, "usable_cores", lambda: 2)
    assert worker_threads(32, 1000) == [16, 16]
    assert worker_threads(5, 1000) == [3, 2]
    assert worker_threads(32, 1000, workers=1) == [32]
    assert worker_threads(32, 1000, workers=3) == [11, 11, 10]
    assert worker_threads(8, 1) == [8]  # one episode to run: one worker, not one per core
    assert worker_threads(1, 10, workers=4) == [1]
    assert sum(worker_threads(7, 3, workers=5)) == 7
    monkeypatch.setattr(backends, "usable_cores", lambda: 4)  # the rule follows the cores
    assert worker_threads(32, 1000) == [8, 8, 8, 8]
