"""Ctrl-C on a real ``usi run``: one line saying what is safely written and how to go on,
exit 130, and the τ² results file of the episodes that finished."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from usi.cli.run import resume_command
from usi.core.episode import Episode
from usi_main import Usi

TAU_USI_SMALL = Path(__file__).parents[1] / "fixtures" / "tau_usi_small.json"


def test_resume_command_is_the_same_command_with_resume() -> None:
    argv = ["/venv/bin/usi", "run", "--domain", "retail", "-o", "my runs/a.jsonl", "--overwrite"]
    assert resume_command(argv) == "usi run --domain retail -o 'my runs/a.jsonl' --resume"
    already = ["usi", "judge", "x.jsonl", "--model", "m", "-o", "j.jsonl", "--resume"]
    assert resume_command(already) == "usi judge x.jsonl --model m -o j.jsonl --resume"


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_keeps_what_finished_and_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "usi",
        "run",
        "--domain",
        "retail",
        "--tasks",
        "0,1,2,3,4,5,6,7",
        "-o",
        str(out),
        "--offline-latency-ms",
        "40",
        "--quiet",
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As in a terminal: a suite started in the background (`make test &`, CI runners)
        # inherits SIGINT *ignored*, and Python then never raises KeyboardInterrupt.
        preexec_fn=_sigint_as_in_a_terminal,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    line = lines[-1]
    written = out.read_text().splitlines()
    assert 2 <= len(written) < 8
    assert line.startswith(f"usi: interrupted: {len(written)} episode(s) safely written to {out}")
    resume = line.split("continue with: ", 1)[1]
    assert shlex.split(resume) == ["usi", *cmd[3:], "--resume"]
    tau2 = json.loads(out.with_suffix(".tau2.json").read_text())
    ids = [json.loads(row)["episode_id"] for row in written]
    assert [s["reward_info"]["info"]["usi_episode_id"] for s in tau2["simulations"]] == ids


def test_ctrl_c_on_judge_says_how_many_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, usi: Usi
) -> None:
    """The third judgement is interrupted: two are whole lines of OUT, the hint says so."""
    from usi.run import judge

    calls: list[str] = []

    def judge_or_interrupt(episode: Episode, settings: judge.JudgeSettings) -> Episode:
        calls.append(episode.episode_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return episode.model_copy(update={"metadata": {**episode.metadata, "judge_survey": {}}})

    monkeypatch.setattr(judge, "judge_episode", judge_or_interrupt)
    out = tmp_path / "judged.jsonl"
    args = ["judge", str(TAU_USI_SMALL), "--model", "offline/terse", "-o", str(out)]
    code, stdout, stderr = usi(*args)
    assert code == 130
    assert stdout == ""
    assert stderr == (
        f"usi: interrupted: 2 episode(s) safely written to {out}; "
        f"continue with: {shlex.join(['usi', *args, '--resume'])}\n"
    )
    assert len(out.read_text().splitlines()) == 2
    assert calls[:3] == ["airline_0", "airline_0_ann2", "retail_5_ann3"]


def test_the_interrupt_count_is_what_out_holds(tmp_path: Path) -> None:
    """Ctrl-C can land between a line's write and its count: the hint counts OUT's lines.

    The summary says 1 episode finished; OUT holds 2 whole lines and a torn third one (a
    write cut short): the hint must say 2, what ``--resume`` will find.
    """
    import threading

    from usi.run.episode import RoleSettings, RunSettings
    from usi.run.outfile import RunInterrupted
    from usi.run.runner import _interrupted
    from usi.run.summary import RunSummary

    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3')
    summary = RunSummary(out=out, tau2_results=None, planned=3, skipped=0, finished=1)
    settings = RunSettings(
        domain="retail",
        agent=RoleSettings("offline/oracle"),
        user=RoleSettings("offline/terse"),
    )
    with pytest.raises(RunInterrupted) as caught, _interrupted(settings, summary, threading.Lock()):
        raise KeyboardInterrupt
    assert caught.value.written == 2
