"""The input rules every scoring command shares (``usi.inputs.sides``), through the real CLI.

Failed runs are left out and counted, ids are unique, only τ²'s tasks are tasks, people
are never a simulator, sources are never pooled across files — and ``usi report`` shows
the numbers ``usi score`` prints for the same files.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_fixtures import write_tau2_results
from usi.core.episode import Episode, Message
from usi.data.io import write_episodes
from usi.data.readers import iter_episodes
from usi.inputs.sides import Screening, screen_episodes, screen_table
from usi.inputs.table import human_rows
from usi.metrics import load_table, score_simulator
from usi.report.sections.leaderboard import HUMAN_ROW
from usi.report.synthetic import SIM_STYLES, generate
from usi_main import CliResult, run_usi

N_HUMAN = 40
N_SIM = 24
N_TASKS = 8
AUTH_ERROR = "user: AuthenticationError: OPENAI_API_KEY is not set"


def with_v2(args: Iterable[str]) -> list[str]:
    """These tests pin usi-v2's behaviour: name it, since tau-usi is the default."""
    out = list(args)
    if out and out[0] in ("score", "fingerprint", "report"):
        out[1:1] = ["--definitions", "usi-v2"]
    return out


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> CliResult:
    """``usi ARGS`` (usi-v2 named, see :func:`with_v2`) through the one CLI helper."""
    return run_usi(capsys, *with_v2(map(str, args)))


def humans(seed: int = 1, n: int = N_HUMAN, n_tasks: int = N_TASKS) -> list[Episode]:
    return generate("human", n, seed, n_tasks=n_tasks, n_batches=2)


def simulator(
    source: str = "mimic", seed: int = 2, n: int = N_SIM, n_tasks: int = N_TASKS
) -> list[Episode]:
    return generate(source, n, seed, SIM_STYLES["mimic"], n_tasks=n_tasks)


def failed(source: str, n: int, n_tasks: int = N_TASKS) -> list[Episode]:
    """Runs that never reached the user: no turn, reward 0.0, ``metadata.error`` set."""
    return [
        Episode(
            episode_id=f"{source}-failed-{i}",
            source=source,
            domain="retail",
            task_id=str(i % n_tasks),
            messages=[Message(role="assistant", content="Hi! How can I help you today?")],
            reward=0.0,
            metadata={"error": f"{AUTH_ERROR} ({i})", "termination_reason": "infrastructure"},
        )
        for i in range(n)
    ]


def write(path: Path, *groups: list[Episode]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_episodes(path, [episode for group in groups for episode in group])
    return path


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("usi: error: "), err
    assert "Traceback" not in err
    return lines[0]


def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("usi: warning: ")]


def leaderboard_csv(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / "leaderboard.csv")


@pytest.fixture
def only_leaderboard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports in these tests draw the leaderboard only: the numbers are the point."""
    import usi.report.build as build

    monkeypatch.setattr(
        build, "SECTIONS", tuple(s for s in build.SECTIONS if s[0] == "leaderboard")
    )


# --- sources are never pooled ----------------------------------------------------------


def test_the_same_file_twice_is_scored_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    sim = write(tmp_path / "sim.jsonl", simulator())
    code, out, err = run(capsys, "score", sim, sim, "--human", human, "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["simulator"] == "mimic"
    assert payload["n_episodes"] == {"human": N_HUMAN, "simulator": N_SIM}  # not 2 × N_SIM
    assert warnings_of(err) == [f"usi: warning: {sim}: given 2 times: scored once"]
    code, once, _ = run(capsys, "score", sim, "--human", human, "--json")
    assert json.loads(once) == payload


def test_one_source_in_two_files_is_two_rows_named_by_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    first = write(tmp_path / "a.jsonl", simulator(seed=2, n=24))
    second = write(tmp_path / "b.jsonl", simulator(seed=3, n=16))
    code, out, err = run(capsys, "score", first, second, "--human", human, "--json")
    assert code == 0, err
    board = json.loads(out)
    rows = {row["simulator"]: row for row in board["leaderboard"]}
    assert set(rows) == {"mimic (a.jsonl)", "mimic (b.jsonl)"}
    assert set(board["audit"]) == set(rows)  # the audit beside USI has the same rows
    assert rows["mimic (a.jsonl)"]["n_episodes"]["simulator"] == 24
    assert rows["mimic (b.jsonl)"]["n_episodes"]["simulator"] == 16
    assert warnings_of(err) == [
        "usi: warning: source 'mimic' is in 2 files: scored as separate rows "
        "'mimic (a.jsonl)', 'mimic (b.jsonl)' (concatenate the files to pool them)"
    ]
    # Each row is that file scored alone: the same numbers by a second path.
    for path, name in ((first, "mimic (a.jsonl)"), (second, "mimic (b.jsonl)")):
        code, alone, _ = run(capsys, "score", path, "--human", human, "--json")
        assert code == 0
        alone_payload = json.loads(alone)
        audit = alone_payload.pop("audit")
        assert {**alone_payload, "simulator": name} == rows[name]
        audit["simulator"]["source"] = name
        assert audit == board["audit"][name]


def test_files_of_the_same_name_are_told_apart_by_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "human.jsonl", humans())
    write(tmp_path / "run1" / "sim.jsonl", simulator(seed=2))
    write(tmp_path / "run2" / "sim.jsonl", simulator(seed=3))
    code, out, err = run(
        capsys, "score", "run1/sim.jsonl", "run2/sim.jsonl", "--human", "human.jsonl", "--json"
    )
    assert code == 0, err
    names = sorted(row["simulator"] for row in json.loads(out)["leaderboard"])
    assert names == ["mimic (run1/sim.jsonl)", "mimic (run2/sim.jsonl)"]
    assert len(warnings_of(err)) == 1


def test_two_tau2_runs_of_one_model_are_two_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    first = write_tau2_results(tmp_path / "monday.json")
    second = write_tau2_results(tmp_path / "tuesday.json")
    (source,) = {episode.source for episode in iter_episodes(first)}
    code, out, err = run(capsys, "score", first, second, "--human", human, "--json")
    assert code == 0, err
    names = sorted(row["simulator"] for row in json.loads(out)["leaderboard"])
    assert names == [f"{source} (monday.json)", f"{source} (tuesday.json)"]
    assert [row["n_episodes"]["simulator"] for row in json.loads(out)["leaderboard"]] == [2, 2]


# --- ids and tasks ---------------------------------------------------------------------


def test_duplicate_episode_ids_are_an_error_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], only_leaderboard: None
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    episodes = simulator()
    doubled = write(tmp_path / "doubled.jsonl", episodes, episodes[:7])
    expected = (
        f"usi: error: {doubled}: episode_id given more than once: mimic-2-0, mimic-2-1, "
        "mimic-2-2, mimic-2-3, mimic-2-4 and 2 more (one id, one episode; was a file "
        "concatenated with itself?)"
    )
    code, out, err = run(capsys, "score", doubled, "--human", human, "--json")
    assert (code, out, one_line_error(err)) == (2, "", expected)
    code, _, err = run(capsys, "score", "--ceiling", write(tmp_path / "h2.jsonl", humans() * 2))
    assert code == 2 and "episode_id given more than once: human-1-0," in one_line_error(err)
    out_dir = tmp_path / "report"
    code, _, err = run(capsys, "report", "--human", human, "--sim", f"m={doubled}", "-o", out_dir)
    assert (code, one_line_error(err)) == (2, expected)
    assert not out_dir.exists()
    # A stream names the first repeated id it meets.
    code, _, err = run(capsys, "fingerprint", doubled)
    assert code == 2
    assert one_line_error(err).startswith(
        f"usi: error: {doubled}: episode_id given more than once: mimic-2-0 (one id,"
    )


def test_a_failed_run_replaced_by_its_rerun_is_not_a_duplicate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    episodes = simulator()
    crashed = episodes[0].model_copy(update={"metadata": {"error": AUTH_ERROR}})
    path = write(tmp_path / "resumed.jsonl", [crashed], episodes)
    code, out, err = run(capsys, "score", path, "--human", human, "--json")
    assert code == 0, err
    assert json.loads(out)["n_episodes"]["simulator"] == N_SIM
    assert len(warnings_of(err)) == 1


def _on_unknown_task(episodes: list[Episode], task: str = "0") -> list[Episode]:
    """The same episodes, with those of ``task`` moved to a task τ² does not have."""
    return [e.model_copy(update={"task_id": "99999"}) if e.task_id == task else e for e in episodes]


def test_an_unknown_task_is_a_warning_and_unaligned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    human = write(tmp_path / "human.jsonl", _on_unknown_task(humans()))  # 5 on task "0"
    sim = write(tmp_path / "sim.jsonl", _on_unknown_task(simulator()))  # 3 on task "0"
    code, out, err = run(capsys, "score", sim, "--human", human, "--json")
    assert code == 0, err
    payload = json.loads(out)
    payload.pop("audit")  # beside USI (usi.audit); the score itself is compared below
    # Both sides played "99999"; it is not a τ² task, so 7 tasks pair, not 8.
    assert payload["n_tasks_paired"] == N_TASKS - 1
    assert warnings_of(err) == [
        f"usi: warning: {human}: 5 episode(s) on task(s) τ² does not have (retail/99999): "
        "counted as unaligned (task_id null)",
        f"usi: warning: {sim}: 3 episode(s) on task(s) τ² does not have (retail/99999): "
        "counted as unaligned (task_id null)",
    ]
    # The same numbers as the library on tables where those episodes are unaligned.
    human_table = human_rows(load_table(human))
    sim_table = load_table(sim)
    for table in (human_table, sim_table):
        table.loc[table["task_id"] == "99999", "task_id"] = None
    expected = score_simulator(sim_table, human_table, "mimic").model_dump()
    assert payload == json.loads(json.dumps(expected))
    code, out, err = run(capsys, "fingerprint", sim, "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert sum(r["task_id"] is None for r in records) == 3
    assert "99999" not in out
    assert len(warnings_of(err)) == 1


# --- failed runs -----------------------------------------------------------------------


def test_failed_runs_are_left_out_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    clean = write(tmp_path / "clean.jsonl", simulator())
    with_failures = write(tmp_path / "run.jsonl", failed("mimic", 3), simulator())
    code, out, err = run(capsys, "score", with_failures, "--human", human, "--json")
    assert code == 0, err
    assert warnings_of(err) == [
        f"usi: warning: {with_failures}: left out 3 episode(s) that failed for infrastructure "
        f"reasons (metadata.error; mimic 3), first: '{AUTH_ERROR} (0)'"
    ]
    code, expected, _ = run(capsys, "score", clean, "--human", human, "--json")
    assert json.loads(out) == json.loads(expected)  # as if the failed runs never happened
    code, out, err = run(capsys, "fingerprint", with_failures, "--json")
    assert code == 0
    assert [json.loads(line)["episode_id"] for line in out.splitlines()] == [
        e.episode_id for e in simulator()
    ]
    assert len(warnings_of(err)) == 1


@pytest.mark.parametrize("command", ["score", "ceiling", "report", "fingerprint"])
def test_nothing_left_after_failures_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    dead_sim = write(tmp_path / "dead.jsonl", failed("gpt-4o", 3))
    dead_people = write(tmp_path / "dead_people.jsonl", failed("human", 2), simulator())
    out_dir = tmp_path / "report"
    args: list[str | Path]
    if command == "score":
        args, path, what, n = ["score", dead_sim, "--human", human], dead_sim, "simulator", 3
    elif command == "ceiling":
        args, path, what, n = ["score", "--ceiling", dead_people], dead_people, "human", 2
    elif command == "report":
        args = ["report", "--human", dead_people, "--sim", f"m={dead_sim}", "-o", out_dir]
        path, what, n = dead_people, "human", 2
    else:
        args, path, what, n = ["fingerprint", dead_sim], dead_sim, "", 3
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    kind = f"{what} episodes" if what else "episodes"
    assert one_line_error(err) == (
        f"usi: error: {path}: no {kind} left: all {n} failed for infrastructure reasons "
        f"(metadata.error), first: '{AUTH_ERROR} (0)'"
    )
    assert not out_dir.exists()


# --- report and score share one path ---------------------------------------------------


def test_a_file_without_people_is_not_a_human_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = write(tmp_path / "sim.jsonl", simulator())
    expected = f'usi: error: {sim}: no human episodes (source "human")'
    code, _, err = run(capsys, "score", sim, "--human", sim)
    assert (code, one_line_error(err)) == (2, expected)
    out_dir = tmp_path / "report"
    code, _, err = run(capsys, "report", "--human", sim, "--sim", f"m={sim}", "-o", out_dir)
    assert (code, one_line_error(err)) == (2, expected)
    assert not out_dir.exists()


def test_report_takes_one_simulator_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    both = write(tmp_path / "both.jsonl", simulator("a"), simulator("b"))
    out_dir = tmp_path / "report"
    code, _, err = run(capsys, "report", "--human", human, "--sim", f"x={both}", "-o", out_dir)
    assert code == 2 and not out_dir.exists()
    assert one_line_error(err) == (
        f"usi: error: {both}: holds 2 simulators (a, b); --sim x=FILE takes one simulator's "
        "episodes (`usi score FILE --human HUMAN` scores each)"
    )


def test_people_in_a_simulator_file_are_not_the_simulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], only_leaderboard: None
) -> None:
    human = write(tmp_path / "human.jsonl", humans())
    sim = write(tmp_path / "sim.jsonl", simulator())
    mixed = write(tmp_path / "mixed.jsonl", humans(seed=9, n=12), simulator())
    note = f"usi: warning: {mixed}: 12 human episode(s) not scored (the people come from --human)"
    code, out, err = run(capsys, "score", mixed, "--human", human, "--json")
    assert code == 0 and warnings_of(err) == [note]
    code, expected, _ = run(capsys, "score", sim, "--human", human, "--json")
    assert json.loads(out) == json.loads(expected)
    out_dir = tmp_path / "report"
    code, _, err = run(capsys, "report", "--human", human, "--sim", f"m={mixed}", "-o", out_dir)
    assert code == 0 and warnings_of(err) == [note]
    row = leaderboard_csv(out_dir).set_index("simulator").loc["m"]
    assert row["episodes"] == N_SIM
    assert row["USI"] == pytest.approx(json.loads(expected)["usi"]["value"], rel=1e-12)
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert f"Simulators (episodes)</th><td>m ({N_SIM})</td>" in html
    assert "Input warnings</th><td>" in html and "12 human episode(s) not scored" in html


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    n_human=st.integers(16, 36),
    n_sim=st.integers(8, 30),
    n_tasks=st.integers(3, 8),
    n_failed=st.integers(0, 3),
    n_unknown=st.integers(0, 2),
    style=st.sampled_from(sorted(SIM_STYLES)),
    seed=st.integers(0, 10_000),
)
def test_report_equals_score_on_mixed_files(
    capsys: pytest.CaptureFixture[str],
    only_leaderboard: None,
    n_human: int,
    n_sim: int,
    n_tasks: int,
    n_failed: int,
    n_unknown: int,
    style: str,
    seed: int,
) -> None:
    """One file with people, a simulator, failed runs and unknown tasks, in any order."""
    people = generate("human", n_human, seed, n_tasks=n_tasks, n_batches=2)
    sim = generate("sim", n_sim, seed + 1, SIM_STYLES[style], n_tasks=n_tasks)
    sim[:n_unknown] = [e.model_copy(update={"task_id": "99999"}) for e in sim[:n_unknown]]
    episodes = [*people, *sim, *failed("sim", n_failed, n_tasks), *failed("human", 1, n_tasks)]
    random.Random(seed).shuffle(episodes)
    with tempfile.TemporaryDirectory() as tmp:
        mixed = write(Path(tmp) / "mixed.jsonl", episodes)
        code, out, score_err = run(capsys, "score", mixed, "--human", mixed, "--json")
        assert code == 0, score_err
        score = json.loads(out)
        code, out, _ = run(capsys, "score", "--ceiling", mixed, "--json")
        assert code == 0
        ceiling = json.loads(out)
        out_dir = Path(tmp) / "report"
        code, _, report_err = run(
            capsys, "report", "--human", mixed, "--sim", f"sim={mixed}", "-o", out_dir
        )
        assert code == 0, report_err
        board = leaderboard_csv(out_dir).set_index("simulator")
        html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert warnings_of(report_err) == warnings_of(score_err)
    assert len(warnings_of(score_err)) == 1 + (n_unknown > 0)  # failed runs; unknown tasks
    assert score["n_episodes"] == {"human": n_human, "simulator": n_sim}
    row = board.loc["sim"]
    assert row["episodes"] == n_sim
    assert row["paired_tasks"] == score["n_tasks_paired"]
    for column, value in (
        ("USI", score["usi"]["value"]),
        ("ci_low", score["usi"]["ci_low"]),
        ("ci_high", score["usi"]["ci_high"]),
        *((c, score["components"][c]) for c in ("D1", "D2", "D3", "D4", "outcome", "evaluation")),
    ):
        scale = 1.0 if column in ("USI", "ci_low", "ci_high") else 100.0
        expected = float("nan") if value is None else scale * value
        assert row[column] == pytest.approx(expected, rel=1e-12, nan_ok=True), column
    if ceiling["value"] is None:
        assert HUMAN_ROW not in board.index
    else:
        assert board.loc[HUMAN_ROW, "USI"] == pytest.approx(ceiling["value"], rel=1e-12)
    # The header counts what was scored: the people, and the simulator's episodes.
    assert f"Human episodes</th><td>{n_human} on {n_tasks} tasks, 2 batch(es)" in html
    assert f"Simulators (episodes)</th><td>sim ({n_sim})</td>" in html


# --- two shapes of input, one set of rules ---------------------------------------------


def test_table_and_stream_rules_agree(tmp_path: Path) -> None:
    episodes = [*failed("mimic", 2), *_on_unknown_task(simulator()), *failed("human", 1)]
    path = write(tmp_path / "run.jsonl", episodes, humans(n=10))
    table = screen_table(load_table(path), str(path), path)
    streamed = Screening(str(path))
    kept = list(screen_episodes(iter_episodes(path), streamed))
    assert table.screening == streamed
    assert table.table["episode_id"].tolist() == [e.episode_id for e in kept]
    assert table.table["task_id"].tolist() == [e.task_id for e in kept]
    assert streamed.failed == {"mimic": 2, "human": 1}
    assert streamed.unknown_tasks == {"retail/99999": 3}
    assert streamed.kept == {"mimic": N_SIM, "human": 10}
