"""Two commands on one OUT: the second is refused at once, so no episode is written twice.

Real processes, started together: before the lock both exited 0 and OUT held duplicated
episode ids that ``usi score`` refused and a later ``--resume`` kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from usi.errors import UsiInputError
from usi.outputs import output_lock

ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
REFUSED = "another usi command is writing this file (wait for it to finish, or use another -o)"


def _run(
    out: Path, *extra: str, tasks: str = "0,1,2,3", latency: int = 40
) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "usi", "run", "--domain", "retail", "--tasks", tasks]
    cmd += ["-o", str(out), "--offline-latency-ms", str(latency), "--quiet", *extra]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_resume_while_the_first_run_writes_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = _run(out, tasks="0,1,2,3,4,5,6,7", latency=250)  # still running when the second starts
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    assert first.poll() is None, first.communicate()
    second = _run(out, "--resume", tasks="0,1,2,3,4,5,6,7", latency=250)
    _, err2 = second.communicate(timeout=180)
    _, err1 = first.communicate(timeout=180)
    assert (first.returncode, second.returncode) == (0, 2), (err1, err2)
    assert err2.strip().splitlines() == [f"usi: error: {out}: {REFUSED}"]
    ids = [json.loads(line)["episode_id"] for line in out.read_text().splitlines()]
    assert len(ids) == 8
    assert len(set(ids)) == 8


def test_two_runs_started_together_write_each_episode_once(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    runs = [_run(out), _run(out, "--resume")]
    results = [(p.wait(timeout=240), p.communicate()[1]) for p in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert refused.strip().splitlines() == [f"usi: error: {out}: {REFUSED}"]
    ids = [json.loads(line)["episode_id"] for line in out.read_text().splitlines()]
    assert len(ids) == 4
    assert len(set(ids)) == 4


def test_the_lock_is_one_holder_at_a_time_and_freed_after(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with output_lock(out):
        with pytest.raises(UsiInputError) as caught, output_lock(out):
            pass
        assert caught.value.one_line() == f"{out}: {REFUSED}"
    with output_lock(out):  # released: taken again
        pass


def test_resume_drops_episodes_an_earlier_overlap_wrote_twice(
    offline_server: Callable[..., object], tmp_path: Path
) -> None:
    """A file from before the lock holds an episode twice: --resume keeps the first, says
    so, and the file has every episode once (it used to say "already done" and keep both)."""
    from run.test_run_e2e import settings
    from usi.run.runner import run_episodes
    from usi.run.summary import summary_line

    offline_server()
    out = tmp_path / "out.jsonl"
    run_episodes(settings("retail"), out, task_ids=["0", "1"], progress=False)
    first, second = out.read_text().splitlines()
    out.write_text("\n".join([first, second, first]) + "\n")
    summary = run_episodes(
        settings("retail"), out, task_ids=["0", "1"], resume=True, progress=False
    )
    assert out.read_text().splitlines() == [first, second]
    assert summary_line(summary).startswith(
        "0 episode(s) run, 2 already done (1 written twice by overlapping runs, dropped) → "
    )
