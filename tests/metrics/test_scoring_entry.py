"""The one scoring entry (``usi.metrics.score.score``): the people's work once per call, and
the same numbers whichever path asks (``usi score``, the report, the demo, the old API)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from usi.demo.corpus import write_demo_corpus
from usi.inputs.sides import human_side
from usi.metrics import load_table
from usi.metrics.models import CeilingResult, ScoreResult
from usi.metrics.score import score, score_leaderboard, score_simulator
from usi.report.inputs import load_input
from usi.report.scores import from_ceiling, from_result, score_all, score_all_tau_usi
from usi_main import Usi

N_BOOTSTRAP = 30


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's embedded corpus: people in 3 batches and two scripted simulators."""
    return write_demo_corpus(tmp_path_factory.mktemp("corpus"))


def _tables(
    corpus: dict[str, Path], definitions: str
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The people and three simulators (the third: the persona under another name)."""
    human = load_table(corpus["human"], definitions=definitions)
    sims = {
        "sim/cooperative": load_table(corpus["sim/cooperative"], definitions=definitions),
        "sim/persona": load_table(corpus["sim/persona"], definitions=definitions),
    }
    sims["sim/persona-again"] = sims["sim/persona"].assign(source="sim/persona-again")
    return human, sims


def _count(monkeypatch: pytest.MonkeyPatch, modules: list[Any], name: str) -> list[int]:
    """Wrap ``name`` wherever it is looked up; the returned list counts its calls."""
    calls = [0]
    original: Callable[..., Any] = getattr(modules[0], name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    for module in modules:
        monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("batches", [3, 1])
def test_usi_v2_splits_the_people_and_computes_floors_once_per_call(
    corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, batches: int
) -> None:
    import usi.metrics.ceiling as ceiling_module
    import usi.metrics.index as index_module
    import usi.metrics.score as score_module

    human, sims = _tables(corpus, "usi-v2")
    if batches == 1:  # the split-half ceiling: the same halves as the floors'
        human = human.assign(batch=1)
    modules = [index_module, score_module, ceiling_module]
    splits = _count(monkeypatch, modules, "split_half")
    floors = _count(monkeypatch, modules, "noise_floors")
    coverage = _count(monkeypatch, [score_module], "human_coverage_reference")
    ceilings = _count(monkeypatch, [ceiling_module], "human_ceiling")
    scored = score(sims, human, definitions="usi-v2", n_bootstrap=N_BOOTSTRAP)
    assert len(scored.results) == 3
    assert scored.ceiling is not None and scored.ceiling_reason == ""
    assert (splits[0], floors[0], coverage[0], ceilings[0]) == (1, 1, 1, 1)


def test_tau_usi_loads_the_difficulty_map_and_scores_the_ceiling_once_per_call(
    corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import usi.metrics.ceiling as ceiling_module
    import usi.metrics.tau_usi.score as tau_score

    human, sims = _tables(corpus, "tau-usi")
    maps = _count(monkeypatch, [tau_score], "load_difficulty")
    ceilings = _count(monkeypatch, [ceiling_module], "tau_usi_ceiling")
    scored = score(sims, human, definitions="tau-usi", n_bootstrap=N_BOOTSTRAP)
    assert len(scored.results) == 3
    assert scored.ceiling is not None and scored.ceiling_reason == ""
    assert (maps[0], ceilings[0]) == (1, 1)


def _dump(result: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = result.model_dump(mode="json")
    return dumped


def test_the_entry_equals_the_one_simulator_function_and_the_leaderboard(
    corpus: dict[str, Path],
) -> None:
    human, sims = _tables(corpus, "usi-v2")
    scored = score(sims, human, definitions="usi-v2", n_bootstrap=N_BOOTSTRAP)
    by_name = {r.simulator: r for r in scored.results}
    for name, table in sims.items():
        alone = score_simulator(table, human, name, n_bootstrap=N_BOOTSTRAP)
        assert _dump(by_name[name]) == _dump(alone)
    board = score_leaderboard(sims, human, n_bootstrap=N_BOOTSTRAP)
    assert _dump(board) == _dump(scored.leaderboard())
    persona, again = by_name["sim/persona"], by_name["sim/persona-again"]
    assert persona.usi.value == again.usi.value  # the same episodes under two names


def _cli_json(usi: Usi, *args: str | Path) -> dict[str, Any]:
    result = usi("score", *args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _sim_files(corpus: dict[str, Path]) -> dict[str, Path]:
    return {name: corpus[name] for name in ("sim/cooperative", "sim/persona")}


def test_report_usi_v2_numbers_equal_usi_score_json(corpus: dict[str, Path], usi: Usi) -> None:
    """Same answer by two paths: the report's leaderboard and ``usi score --json``."""
    files = _sim_files(corpus)
    document = _cli_json(
        usi, *files.values(), "--human", corpus["human"], "--definitions", "usi-v2"
    )
    human = human_side(load_input(corpus["human"], "--human"))
    _, scores, ceiling, reason = score_all(human, files)
    assert reason == "" and ceiling is not None
    printed = {r["simulator"]: r for r in document["leaderboard"]}
    assert set(printed) == set(scores)
    for name, row in scores.items():
        expected = from_result(name, ScoreResult.model_validate(printed[name]))
        assert (row.usi, row.ci_low, row.ci_high, row.usi_std) == (
            expected.usi,
            expected.ci_low,
            expected.ci_high,
            expected.usi_std,
        )
        assert row.components == expected.components
        assert row.fidelity == expected.fidelity
        assert row.per_batch == expected.per_batch
    expected_ceiling = from_ceiling(CeilingResult.model_validate(document["ceiling"]))
    assert (ceiling.usi, ceiling.usi_std, ceiling.components) == (
        expected_ceiling.usi,
        expected_ceiling.usi_std,
        expected_ceiling.components,
    )


def test_report_tau_usi_numbers_equal_usi_score_json(corpus: dict[str, Path], usi: Usi) -> None:
    files = _sim_files(corpus)
    document = _cli_json(usi, *files.values(), "--human", corpus["human"])
    human = human_side(load_input(corpus["human"], "--human", "tau-usi"))
    scores, ceiling, reason = score_all_tau_usi(human, files, {})
    assert reason == "" and ceiling is not None and ceiling.tau is not None
    printed = {r["simulator"]: r for r in document["leaderboard"]}
    for name, row in scores.items():
        assert row.tau is not None
        assert _dump(row.tau) == printed[name]
    # The terminal's ceiling has no interval (0 replicates), the report's has one: the rest agrees.
    cli_ceiling = document["ceiling"]
    ours = _dump(ceiling.tau)
    for key in ("paper_row", "components", "per_batch", "signature", "notes"):
        assert ours[key] == cli_ceiling[key]
    assert (ours["usi"]["value"], ours["usi"]["std"]) == (
        cli_ceiling["usi"]["value"],
        cli_ceiling["usi"]["std"],
    )


def test_score_ceiling_alone_equals_the_leaderboards_ceiling(
    corpus: dict[str, Path], usi: Usi
) -> None:
    files = list(_sim_files(corpus).values())
    for definitions in ("usi-v2", "tau-usi"):
        board = _cli_json(usi, *files, "--human", corpus["human"], "--definitions", definitions)
        alone = _cli_json(usi, "--ceiling", corpus["human"], "--definitions", definitions)
        if definitions == "usi-v2":
            assert alone == board["ceiling"]
        else:  # the leaderboard's tau-usi ceiling is shown without an interval
            assert alone["paper_row"] == board["ceiling"]["paper_row"]


def test_results_are_ranked_best_first(corpus: dict[str, Path]) -> None:
    for definitions in ("usi-v2", "tau-usi"):
        human, sims = _tables(corpus, definitions)
        scored = score(sims, human, definitions=definitions, n_bootstrap=0, with_fidelity=False)
        assert [r.simulator for r in scored.results] == [
            "sim/persona",
            "sim/persona-again",
            "sim/cooperative",
        ]
