"""`usi report --definitions tau-usi|usi-v2`: one number per definition set, whatever the path.

The inputs are the demo corpus (people in three batches on 20 study tasks, two scripted
simulators), written once; every USI the report shows is checked against the JSON that
`usi score --definitions X --json` prints for the same files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from usi.data import read_episodes
from usi.data.io import write_episodes
from usi.demo.corpus import write_demo_corpus
from usi.report.build import SECTIONS
from usi.report.specs import SimSpec, parse_sim_spec
from usi_main import run_usi

SIMS = {"coop": "sim/cooperative", "persona": "sim/persona"}
SECTION_KEYS = ("leaderboard", "capability", "taxonomy", "evaluative")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo")
    corpus = write_demo_corpus(root / "corpus")
    out = {"human": corpus["human"], **{name: corpus[source] for name, source in SIMS.items()}}
    # A rater who answers every person's survey exactly as that person did: Eval = 100.
    rated = []
    for episode in read_episodes(corpus["human"]):
        episode.metadata["judge_survey"] = dict(episode.survey or {})
        rated.append(episode)
    write_episodes(root / "ratings.jsonl", rated)
    out["ratings"] = root / "ratings.jsonl"
    one_batch = [e for e in read_episodes(corpus["human"]) if e.batch == 1]
    write_episodes(root / "human-b1.jsonl", one_batch)
    out["human_b1"] = root / "human-b1.jsonl"
    capability = root / "capability.csv"
    capability.write_text("model,family,score\ncoop,acme,1300\npersona,acme,1200\n", "utf-8")
    out["capability"] = capability
    return out


@pytest.fixture(scope="module")
def few_sections() -> Iterator[None]:
    import usi.report.build as build

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "SECTIONS", tuple(s for s in SECTIONS if s[0] in SECTION_KEYS))
        yield


def report(files: dict[str, Path], out: Path, *extra: str, ratings: bool = False) -> Path:
    sims = [
        arg
        for name in SIMS
        for arg in (
            "--sim",
            f"{name}={files[name]}"
            + (f":{files['ratings']}" if ratings and name == "coop" else ""),
        )
    ]
    # Called from module-scoped fixtures, which have no capsys: run_usi captures the output.
    code, _, err = run_usi(
        None,
        "report",
        "--human",
        files["human"],
        *sims,
        "--capability",
        files["capability"],
        *extra,
        "-o",
        out,
    )
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def tau_report(
    files: dict[str, Path], few_sections: None, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return report(files, tmp_path_factory.mktemp("tau") / "out", ratings=True)


@pytest.fixture(scope="module")
def v2_report(
    files: dict[str, Path], few_sections: None, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return report(files, tmp_path_factory.mktemp("v2") / "out", "--definitions", "usi-v2")


def score_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = run_usi(capsys, "score", *args, "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def board(out: Path) -> pd.DataFrame:
    frame = pd.read_csv(out / "tables" / "leaderboard.csv", float_precision="round_trip")
    return frame.set_index("simulator")


def test_tau_usi_leaderboard_is_usi_score_json(
    tau_report: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = board(tau_report)
    human = ["--human", str(files["human"]), "--definitions", "tau-usi"]
    for name in SIMS:
        ratings = ["--ratings", str(files["ratings"])] if name == "coop" else []
        result = score_json([str(files[name]), *human, *ratings], capsys)
        row = rows.loc[name]
        assert result["definitions"] == "tau-usi"
        assert row["USI"] == result["usi"]["value"]
        assert row["usi_std"] == result["usi"]["std"]
        assert (row["ci_low"], row["ci_high"]) == (
            result["usi"]["ci_low"],
            result["usi"]["ci_high"],
        )
        assert row["D1"] == 100 * result["components"]["D1"]
        assert row["outcome"] == 100 * result["components"]["outcome"]
        assert row["ece"] == result["paper_row"]["ece"][0]
        assert row["n_terms"] == result["usi"]["n_terms"]
        assert row["published_rank"] == result["published"]["rank"]
    ceiling = score_json(["--ceiling", str(files["human"])], capsys)
    top = rows.iloc[0]
    assert rows.index[0] == "Humans (ceiling)"
    assert top["USI"] == ceiling["usi"]["value"]
    assert (top["ci_low"], top["ci_high"]) == (ceiling["usi"]["ci_low"], ceiling["usi"]["ci_high"])
    assert list(rows["USI"].iloc[1:]) == sorted(rows["USI"].iloc[1:], reverse=True)


def test_ratings_give_the_eval_term(tau_report: Path) -> None:
    """The rater who answered as each person did agrees perfectly: Eval = 100, 6 terms."""
    rows = board(tau_report)
    assert rows.loc["coop", "evaluation"] == 100.0
    assert rows.loc["coop", "n_terms"] == 6
    assert pd.isna(rows.loc["persona", "evaluation"]) and rows.loc["persona", "n_terms"] == 5


def test_usi_v2_leaderboard_is_usi_score_json(
    v2_report: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = board(v2_report)
    human = ["--human", str(files["human"]), "--definitions", "usi-v2"]
    for name in SIMS:
        result = score_json([str(files[name]), *human, "--no-audit"], capsys)
        assert result["definitions"] == "usi-v2"
        assert rows.loc[name, "USI"] == result["usi"]["value"]
        assert rows.loc[name, "ci_low"] == result["usi"]["ci_low"]
    ceiling = score_json(["--ceiling", str(files["human"]), "--definitions", "usi-v2"], capsys)
    assert rows.loc["Humans (ceiling)", "USI"] == ceiling["value"]
    # Two definition sets, two different numbers for the same files: the label matters.
    assert "fidelity" not in {p.stem for p in (v2_report / "tables").glob("*.csv")}


def test_header_and_labels_say_which_definitions(tau_report: Path, v2_report: Path) -> None:
    html = (tau_report / "report.html").read_text(encoding="utf-8")
    assert "tau-usi: the paper&#39;s USI, exactly" in html
    assert "signature: defs:tau-usi|map:frozen-31:" in html
    assert "coop: signature: defs:tau-usi|map:frozen-31:" in html and "|eval:yes|" in html
    assert "Eval is out and USI has 5 terms" in html
    assert "not comparable with it" in html
    assert "The taxonomy view (usi-v2)" in html and "The evaluative gap (usi-v2)" in html
    assert html.count("Definitions usi-v2: the numbers of this section are usi-v2") == 2
    assert "Fidelity beyond USI (definitions usi-v2)" in html
    assert "USI is the mean over the human batches and the error bars" in html
    fidelity = pd.read_csv(tau_report / "tables" / "fidelity.csv")
    assert list(fidelity.columns) == ["simulator", "dispersion", "coverage", "discriminator_auc"]
    v2 = (v2_report / "report.html").read_text(encoding="utf-8")
    assert "usi-v2: usi&#39;s small-sample variant" in v2
    assert "(usi-v2)</h2>" not in v2 and "signature: defs:tau-usi" not in v2


def test_figure_draws_the_published_rows(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import usi.report.build as build
    from usi.metrics.tau_usi.score import published_rows
    from usi.report.sections import leaderboard

    monkeypatch.setattr(build, "SECTIONS", tuple(s for s in SECTIONS if s[0] == "leaderboard"))
    drawn: dict[str, Any] = {}
    real = leaderboard.render

    def capture(fig: Any, name: str, title: str, caption: str) -> Any:
        if name == "leaderboard_usi":
            ax = fig.axes[0]
            drawn["labels"] = [t.get_text() for t in ax.get_yticklabels()]
            drawn["legend"] = [t.get_text() for t in fig.legends[0].get_texts()]
        return real(fig, name, title, caption)

    monkeypatch.setattr(leaderboard, "render", capture)
    build.build_report(
        files["human"], {n: files[n] for n in SIMS}, tmp_path / "out", definitions="tau-usi"
    )
    published = [f"{r['name']} (published)" for r in published_rows()["simulators"]]  # type: ignore[index]
    assert set(published) <= set(drawn["labels"]) and {"coop", "persona"} <= set(drawn["labels"])
    assert len(drawn["labels"]) == len(published) + 2
    assert any("measured on 495 human sessions" in t for t in drawn["legend"])


def test_one_human_batch_has_no_tau_usi_ceiling_and_says_so(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import usi.report.build as build

    monkeypatch.setattr(build, "SECTIONS", tuple(s for s in SECTIONS if s[0] == "leaderboard"))
    result = build.build_report(files["human_b1"], {"coop": files["coop"]}, tmp_path / "out")
    (section,) = result.sections
    assert section.notes[0] == (
        "No tau-usi human ceiling: the tau-usi ceiling needs at least 2 human batches, this "
        "file has 1: use --definitions usi-v2 (split-half ceiling)."
    )
    rows = board(tmp_path / "out")
    assert list(rows.index) == ["coop"] and rows.loc["coop", "usi_std"] == 0.0
    assert "no human ceiling: the tau-usi ceiling needs" in result.path.read_text("utf-8")


@pytest.mark.parametrize(
    ("spec", "extra", "message"),
    [
        ("coop={coop}:/nonexistent/r.json", [], "/nonexistent/r.json: no such file"),
        (
            "coop={coop}:{ratings}",
            ["--definitions", "usi-v2"],
            "--sim: RATINGS belong to --definitions tau-usi",
        ),
        ("coop={coop}:", [], "--sim: expected NAME=FILE[:RATINGS]"),
    ],
)
def test_bad_ratings_are_one_line_exit_2_before_any_work(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spec: str,
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "out"
    sim = spec.format(coop=files["coop"], ratings=files["ratings"])
    code, _, err = run_usi(
        capsys, "report", "--human", files["human"], "--sim", sim, *extra, "-o", out
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("usi: error: "), err
    assert message in lines[0]
    assert not out.exists()


def test_sim_spec_forms(tmp_path: Path) -> None:
    assert parse_sim_spec("a=x.jsonl") == SimSpec("a", Path("x.jsonl"))
    assert parse_sim_spec(" a = x.jsonl:r.json ") == SimSpec("a", Path("x.jsonl"), Path("r.json"))
    assert parse_sim_spec("a=d/x:y.jsonl:r.json") == SimSpec(
        "a", Path("d/x:y.jsonl"), Path("r.json")
    )
    colon = tmp_path / "run-12:30.jsonl"
    colon.write_text("", encoding="utf-8")
    assert parse_sim_spec(f"a={colon}") == SimSpec("a", colon)
