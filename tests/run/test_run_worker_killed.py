"""A worker of ``usi run --backend process`` killed mid-run (the OOM killer, kill -9).

Before: a RuntimeError traceback, exit 1 and no ``.tau2.json``. Now: one line saying what
OUT safely holds and how to go on, exit 1, the τ² file of the finished episodes, and
``--resume`` finishes the run with every episode once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
TASKS = "0,1,2,3,4,5"


def _workers(parent: int) -> list[int]:
    """The spawned worker processes of ``parent`` (not its resource tracker or server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(next(x for x in status.splitlines() if x.startswith("PPid:")).split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_killed_worker_stops_the_run_in_one_line_and_resume_finishes_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "usi", "run", "--domain", "retail", "--tasks", TASKS]
    cmd += ["-o", str(out), "--offline-latency-ms", "150", "--quiet", "--backend", "process"]
    cmd += ["--workers", "2", "--concurrency", "2"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    workers = _workers(proc.pid)
    assert proc.poll() is None and len(workers) == 2, proc.communicate()
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=180)
    written = out.read_text().splitlines()
    assert proc.returncode == 1
    assert stdout == ""
    tau2 = out.with_suffix(".tau2.json")
    assert len(stderr.splitlines()) == 1, stderr
    (line,) = stderr.splitlines()
    assert line.startswith("usi: error: a worker process died (exit code -9) with ")
    assert line.endswith(
        f"episode(s) unfinished; {len(written)} episode(s) safely written to {out} "
        f"(τ² results: {tau2}); continue with: usi {' '.join(cmd[3:])} --resume"
    )
    simulations = json.loads(tau2.read_text())["simulations"]
    assert len(simulations) == len(written)
    resumed = subprocess.run(
        [*cmd, "--resume"], env=ENV, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    ids = [json.loads(row)["episode_id"] for row in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 6
