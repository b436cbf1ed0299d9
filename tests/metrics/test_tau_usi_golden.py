"""tau-usi equals the paper's reference scorer to 1e-9 on its golden figures (../shared).

The figures were produced by running the reference (sunnweiwei/OdysSim, agents/tau_usi)
unchanged on the shared sample and two synthetic simulators; these tests skip without them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from usi.data.paper_results import read_ratings
from usi.data.readers import iter_episodes
from usi.fingerprint.tau_usi.features import FEATURES
from usi.inputs.table import load_table
from usi.metrics.ceiling import tau_usi_ceiling
from usi.metrics.tau_usi.score import score_simulator
from usi_main import run_usi

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "tau-usi"
SAMPLE = REFERENCE.parent.parent / "data" / "tau-usi-sample" / "tau_usi_sample.json"
CELLS = ("D1_conv", "D2_info", "D3_clarif", "D4_react", "eval_agree", "ece", "usi")
TOLERANCE = 1e-9

pytestmark = pytest.mark.skipif(
    not (REFERENCE / "golden.json").exists() or not SAMPLE.exists(),
    reason="../shared/reference/tau-usi is absent",
)


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads((REFERENCE / "golden.json").read_text())


@pytest.fixture(scope="module")
def human():
    table = load_table(SAMPLE, definitions="tau-usi")
    return table[table.source == "human"].reset_index(drop=True)


def _same_cells(mine: dict, reference: dict) -> None:
    for cell in CELLS:
        if reference[cell] is None:
            assert mine[cell] is None, cell
            continue
        assert mine[cell] is not None, cell
        assert mine[cell][0] == pytest.approx(reference[cell][0], abs=TOLERANCE), cell
        assert mine[cell][1] == pytest.approx(reference[cell][1], abs=TOLERANCE), cell


def test_every_human_feature_equals_the_reference(golden: dict) -> None:
    from usi.data.paper import episode_turns
    from usi.fingerprint.tau_usi.features import conversation_features

    seen = 0
    for episode in iter_episodes(SAMPLE):
        features = conversation_features(*episode_turns(episode))
        assert features is not None
        expected = golden["human_features"][episode.episode_id]
        for name in FEATURES:
            assert features[name] == pytest.approx(expected[name], abs=TOLERANCE), name
        seen += 1
    assert seen == len(golden["human_features"]) == 89


def test_every_simulator_feature_equals_the_reference(golden: dict) -> None:
    table = load_table(REFERENCE / "eval_results_synthetic-sim.json", definitions="tau-usi")
    rows = table.set_index("episode_id")
    for key, expected in golden["synthetic_sim_features"].items():
        for name in FEATURES:
            assert rows.loc[key, name] == pytest.approx(expected[name], abs=TOLERANCE), name


def test_ceiling_equals_the_reference(golden: dict, human) -> None:
    result = tau_usi_ceiling(human, n_bootstrap=0)
    _same_cells(result.paper_row.model_dump(), golden["results_without_eval"][0])


@pytest.mark.parametrize(
    ("file", "key", "with_ratings"),
    [
        ("eval_results_synthetic-sim.json", "results_without_eval", False),
        ("eval_results_synthetic-sim.json", "results_with_eval", True),
        ("eval_results_synthetic-multirun.json", "results_multirun_without_eval", False),
    ],
)
def test_simulator_rows_equal_the_reference(
    golden: dict, human, file: str, key: str, with_ratings: bool
) -> None:
    ratings = None
    if with_ratings:
        path = REFERENCE / "survey_comparable_synthetic-sim.json"
        ratings = read_ratings(path, json.loads(path.read_text()))
    sim = load_table(REFERENCE / file, definitions="tau-usi")
    result = score_simulator(sim, human, "sim", ratings=ratings, n_bootstrap=0)
    _same_cells(result.paper_row.model_dump(), golden[key][1])
    assert result.usi.value == pytest.approx(golden[key][1]["usi"][0], abs=TOLERANCE)


def _score_sample(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run_usi(
        capsys,
        "score",
        REFERENCE / "eval_results_synthetic-sim.json",
        "--human",
        SAMPLE,
        "--ratings",
        REFERENCE / "survey_comparable_synthetic-sim.json",
        "--bootstrap",
        "0",
        *extra,
    )


def test_the_cli_prints_the_same_number(golden: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """Terminal path and JSON path give the reference's USI (one number per definition set)."""
    code, out, _ = _score_sample(capsys, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["definitions"] == "tau-usi"
    expected = golden["results_with_eval"][1]
    assert document["usi"]["value"] == pytest.approx(expected["usi"][0], abs=1e-9)
    assert document["paper_row"]["eval_agree"][0] == pytest.approx(
        expected["eval_agree"][0], abs=1e-9
    )
    assert "defs:tau-usi" in document["signature"] and "eval:yes" in document["signature"]


def test_the_terminal_view_prints_the_same_number(
    golden: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _score_sample(capsys)
    assert code == 0
    value = golden["results_with_eval"][1]["usi"][0]
    assert f"synthetic-sim: USI {value:.1f}," in out
    assert f"{value:.2f}±" in out  # the table's cell
    assert "signature: defs:tau-usi|" in out
