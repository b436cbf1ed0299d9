"""``usi score``: the JSON contract, the leaderboard, the ceiling, and bad input."""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from usi.cli.score import DEFAULT_BOOTSTRAP
from usi.core.episode import Episode, Message
from usi.core.survey import SURVEY_ITEMS
from usi.data.io import write_episodes
from usi.fingerprint.features import FEATURES
from usi.inputs.table import human_rows
from usi.metrics import load_table, score_simulator
from usi.metrics.bootstrap import N_BOOTSTRAP
from usi_main import CliResult, Usi

HUMAN_TURNS = ["yes", "ok go ahead", "my order is #W1234567", "hmm not sure", "ugh forget it"]
POLITE_TURNS = [
    "Thank you so much for your help; I would appreciate it if you could check my order.",
    "Certainly, please proceed with the exchange — I am absolutely sure about the color.",
    "Additionally, could you please confirm the refund? Thanks again for your patience.",
]
TERSE_TURNS = ["ok", "yes", "A", "no"]


def _episode(
    rng: random.Random,
    source: str,
    index: int,
    task: int,
    turns: list[str],
    batch: int | None = None,
    success: float = 0.5,
    survey: bool = True,
) -> Episode:
    messages = [Message(role="assistant", content="Hi! How can I help you today?")]
    for _ in range(rng.randint(2, 5)):
        messages.append(Message(role="user", content=rng.choice(turns)))
        messages.append(Message(role="assistant", content="Let me check that for you."))
    answers = {item.id: rng.choice(item.options) for item in SURVEY_ITEMS} if survey else None
    return Episode(
        episode_id=f"{source}-{batch}-{index}",
        source=source,
        batch=batch,
        domain="retail",
        task_id=str(task),
        messages=messages,
        reward=1.0 if rng.random() < success else 0.0,
        survey=answers,
    )


def _write(path: Path, episodes: list[Episode]) -> Path:
    write_episodes(path, episodes)
    return path


@pytest.fixture
def human_file(tmp_path: Path) -> Path:
    rng = random.Random(1)
    episodes = [
        _episode(rng, "human", i, i % 8, HUMAN_TURNS, batch=1 + i % 2, success=0.4)
        for i in range(48)
    ]
    return _write(tmp_path / "human.jsonl", episodes)


@pytest.fixture
def sim_file(tmp_path: Path) -> Path:
    rng = random.Random(2)
    episodes = [_episode(rng, "polite-llm", i, i % 8, POLITE_TURNS, success=0.8) for i in range(32)]
    return _write(tmp_path / "sim.jsonl", episodes)


@pytest.fixture
def two_sims_file(tmp_path: Path) -> Path:
    rng = random.Random(3)
    episodes = [_episode(rng, "polite-llm", i, i % 8, POLITE_TURNS, success=0.8) for i in range(24)]
    episodes += [_episode(rng, "humanlike", i, i % 8, HUMAN_TURNS, success=0.4) for i in range(24)]
    episodes += [_episode(rng, "terse", i, i % 8, TERSE_TURNS, survey=False) for i in range(24)]
    return _write(tmp_path / "sims.jsonl", episodes)


@pytest.fixture
def score_cli(usi: Usi) -> Callable[..., CliResult]:
    """``usi score --definitions usi-v2 ARGS``."""
    return functools.partial(usi, "score", "--definitions", "usi-v2")


def test_single_simulator_json_is_exactly_the_contract(
    score_cli: Callable[..., CliResult], human_file: Path, sim_file: Path
) -> None:
    code, out, err = score_cli(str(sim_file), "--human", str(human_file), "--json")
    assert code == 0, err
    payload = json.loads(out)  # exactly one JSON object, nothing else on stdout
    assert isinstance(payload, dict)
    assert payload["definitions"] == "usi-v2"
    assert {"usi", "components", "features", "n_episodes", "n_tasks_paired"} <= set(payload)
    assert set(payload["usi"]) == {"value", "ci_low", "ci_high", "components_used"}
    assert {"D1", "D2", "D3", "D4", "outcome", "evaluation", "missing"} == set(
        payload["components"]
    )
    assert list(payload["features"]) == list(FEATURES)
    for feature in payload["features"].values():
        assert {"human", "simulator", "dice", "p_adj", "effect"} <= set(feature)
    assert payload["n_episodes"] == {"human": 48, "simulator": 32}
    assert payload["n_tasks_paired"] == 8
    assert payload["simulator"] == "polite-llm"
    # v2: the headline is against all humans pooled, the interval a task bootstrap; the
    # per-batch scores are a robustness detail beside it
    uncertainty = payload["uncertainty"]
    assert uncertainty["method"] == "bootstrap" and uncertainty["n_bootstrap"] == N_BOOTSTRAP
    assert uncertainty["n_batches"] == 2 and set(uncertainty["per_batch"]) == {"1", "2"}
    assert uncertainty["batch_std"] is not None
    # 8 paired tasks: the one-line warning, in the JSON and on stderr
    assert "only 8 tasks are paired" in uncertainty["note"]
    assert err.strip() == f"usi: note: polite-llm: {uncertainty['note']}"
    usi = payload["usi"]
    assert usi["ci_low"] <= usi["value"] <= usi["ci_high"]
    components = [payload["components"][c] for c in usi["components_used"]]
    assert usi["value"] == pytest.approx(100 * sum(components) / len(components), abs=1e-12)
    assert usi["components_used"] == ["D1", "D2", "D3", "D4", "outcome", "evaluation"]
    assert set(payload["fidelity"]) == {"dispersion", "coverage", "discriminator_auc"}
    assert set(payload["evaluation_detail"]["dimensions"]) <= {i.id for i in SURVEY_ITEMS}
    # the polite simulator is far more polite than these humans: flagged
    assert payload["features"]["politeness_rate"]["effect"] > 0.33
    # ... and told so in words, with both sides' values as the output reports them
    polite = next(d for d in payload["divergences"] if d["behaviour"] == "politeness_rate")
    feature = payload["features"]["politeness_rate"]
    assert polite["text"] == (
        f"polite in {feature['simulator']:.0%} of turns vs {feature['human']:.0%} for people"
    )
    gaps = [d["gap"] for d in payload["divergences"]]
    assert gaps == sorted(gaps, reverse=True)
    # every number comes from the data: the library on the same files says the same
    table = load_table(human_file)
    sim_table = load_table(sim_file)
    expected = score_simulator(sim_table, human_rows(table), "polite-llm").model_dump()
    audit = payload.pop("audit")  # usi.audit's block, beside the score and not part of it
    assert audit["simulator"]["source"] == "polite-llm"
    assert payload == json.loads(json.dumps(expected))


def test_single_simulator_summary_is_readable(
    score_cli: Callable[..., CliResult], human_file: Path, sim_file: Path
) -> None:
    code, out, _ = score_cli(str(sim_file), "--human", str(human_file), "--bootstrap", "20")
    assert code == 0
    assert "polite-llm" in out and "USI" in out
    assert "95% task-bootstrap interval (bias-centred percentile), 20 replicates" in out
    assert "definitions usi-v2" in out
    assert "only 8 tasks are paired (fewer than 30)" in out
    assert "against each human batch alone: batch 1" in out
    assert "politeness_rate" in out  # a flagged large gap, with both values
    assert "Where the simulator differs most from people" in out
    assert "1. " in out and "for people" in out
    assert "discriminator AUC" in out


def test_one_file_can_hold_humans_and_simulators(
    score_cli: Callable[..., CliResult], human_file: Path, sim_file: Path
) -> None:
    both = Path(sim_file).parent / "both.jsonl"
    both.write_text(human_file.read_text() + sim_file.read_text())
    code, out, _ = score_cli(str(both), "--human", str(both), "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["n_episodes"] == {"human": 48, "simulator": 32}


def test_leaderboard_json_is_sorted_under_the_ceiling(
    score_cli: Callable[..., CliResult], human_file: Path, two_sims_file: Path
) -> None:
    code, out, err = score_cli(str(two_sims_file), "--human", str(human_file), "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {"definitions", "ceiling", "leaderboard", "audit"}
    names = [r["simulator"] for r in payload["leaderboard"]]
    assert sorted(names) == ["humanlike", "polite-llm", "terse"]
    values = [r["usi"]["value"] for r in payload["leaderboard"]]
    assert values == sorted(values, reverse=True)
    assert names[0] == "humanlike"  # the simulator written from the humans' turns wins
    terse = next(r for r in payload["leaderboard"] if r["simulator"] == "terse")
    assert terse["components"]["evaluation"] is None
    assert terse["components"]["missing"]["evaluation"] == "no simulator survey answers"
    assert "evaluation" not in terse["usi"]["components_used"]
    assert payload["ceiling"]["method"] == "batch-vs-batch"
    assert payload["definitions"] == "usi-v2"


def test_leaderboard_table_has_the_ceiling_on_top(
    score_cli: Callable[..., CliResult], human_file: Path, two_sims_file: Path
) -> None:
    code, out, _ = score_cli(str(two_sims_file), "--human", str(human_file), "--bootstrap", "20")
    assert code == 0
    assert out.index("humans (ceiling)") < out.index("humanlike") < out.index("terse")
    assert "definitions usi-v2" in out
    assert "how well one group of people matches another" in out
    assert "Where each simulator differs most from people:" in out
    assert "  polite-llm: " in out and "for people" in out


def test_ceiling_json(score_cli: Callable[..., CliResult], human_file: Path) -> None:
    code, out, _ = score_cli("--ceiling", str(human_file), "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["definitions"] == "usi-v2"
    # two batches: one batch against the other (the two leave-one-out folds are mirror images)
    assert payload["method"] == "batch-vs-batch" and payload["n_batches"] == 2
    assert len(payload["per_fold"]) == 1 and len(payload["folds"]) == 1
    # the same shape as a simulator's score, plus its folds
    assert {"usi", "components", "features", "uncertainty", "folds"} <= set(payload)
    assert set(payload["folds"][0]) == set(
        score_simulator(load_table(human_file), human_rows(load_table(human_file))).model_dump()
    )
    assert payload["usi"]["value"] == payload["value"]
    assert 0 < payload["value"] <= 100
    assert payload["uncertainty"]["method"] == "bootstrap"
    code, out, _ = score_cli("--ceiling", str(human_file))
    assert code == 0 and "Human ceiling" in out
    assert "one batch against the other" in out and "definitions usi-v2" in out


def _assert_one_line_error(code: int, out: str, err: str, needle: str) -> None:
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("usi: error: ") and needle in lines[0]
    assert "Traceback" not in err


def test_bad_input_is_one_line_and_exit_2(
    score_cli: Callable[..., CliResult], tmp_path: Path, human_file: Path, sim_file: Path
) -> None:
    missing = tmp_path / "nope.jsonl"
    _assert_one_line_error(*score_cli(str(sim_file), "--human", str(missing)), "no such file")
    _assert_one_line_error(
        *score_cli(str(sim_file), "--human", str(sim_file), "--json"), "no human episodes"
    )
    _assert_one_line_error(
        *score_cli(str(human_file), "--human", str(human_file)), "no simulator episodes"
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text(sim_file.read_text().splitlines()[0] + "\n{not json\n")
    _assert_one_line_error(*score_cli(str(broken), "--human", str(human_file)), "line 2")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _assert_one_line_error(*score_cli("--ceiling", str(empty)), "empty.jsonl")
    _assert_one_line_error(*score_cli(str(sim_file)), "--human")
    _assert_one_line_error(*score_cli(), "--ceiling")
    _assert_one_line_error(
        *score_cli(str(sim_file), "--ceiling", str(human_file)), "--ceiling HUMAN takes no SIM"
    )


def test_unreadable_input_is_bad_input(
    score_cli: Callable[..., CliResult], tmp_path: Path, human_file: Path
) -> None:
    binary = tmp_path / "episodes.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    _assert_one_line_error(*score_cli(str(binary), "--human", str(human_file)), "episodes.bin")
    _assert_one_line_error(*score_cli(str(tmp_path), "--human", str(human_file)), "directory")


def test_cli_default_bootstrap_matches_the_library() -> None:
    assert DEFAULT_BOOTSTRAP == N_BOOTSTRAP


@pytest.mark.shared
def test_ceiling_of_the_real_sample(
    score_cli: Callable[..., CliResult], tau_usi_sample: Path
) -> None:
    code, out, err = score_cli("--ceiling", str(tau_usi_sample), "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["n_batches"] == 2 and payload["method"] == "batch-vs-batch"
    # usi-v2 on the real sample: ≈ 84 (v1 gave 71.0 ± 0.0 from two identical folds)
    assert 78 < payload["value"] <= 92
    assert payload["components"]["evaluation"] > 0.9
