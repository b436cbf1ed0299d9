"""`usi report`: every section from synthetic episode sets with known gaps, bad input, atomicity."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from usi.errors import UsiInputError
from usi.metrics import human_ceiling, load_table, score_simulator
from usi.report import write_report
from usi.report.build import SECTIONS, build_report
from usi.report.sections.capability import BAND_LEVEL, fit_family
from usi.report.sections.reward import association_row
from usi.report.synthetic import SIM_STYLES, UserStyle, generate, write_corpus
from usi_main import run_usi

N_HUMAN = 180
N_SIM = 120


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Human episodes in 3 batches with judge answers, three simulators, a capability CSV."""
    root = tmp_path_factory.mktemp("corpus")
    files = {
        "human": write_corpus(
            root / "human.jsonl",
            generate("human", N_HUMAN, 1, n_tasks=30, n_batches=3, with_judge=True),
        )
    }
    for name, style in SIM_STYLES.items():
        files[name] = write_corpus(root / f"{name}.jsonl", generate(name, N_SIM, 2, style, 30))
    capability = root / "capability.csv"
    capability.write_text(
        "model,family,score\npolite-llm,acme,1310\npersona,acme,1260\nmimic,acme,1200\n",
        encoding="utf-8",
    )
    files["capability"] = capability
    return files


def sim_args(corpus: dict[str, Path]) -> list[str]:
    return [arg for name in SIM_STYLES for arg in ("--sim", f"{name}={corpus[name]}")]


@pytest.fixture(scope="module")
def report_dir(corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    # A module-scoped fixture has no capsys: run_usi captures the output.
    code, _, err = run_usi(
        None,
        "report",
        "--human",
        corpus["human"],
        *sim_args(corpus),
        "--capability",
        corpus["capability"],
        "--definitions",
        "usi-v2",
        "-o",
        out,
    )
    assert code == 0, err
    return out


def test_report_writes_html_figures_and_tables(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    pngs = sorted((report_dir / "figures").glob("*.png"))
    svgs = sorted((report_dir / "figures").glob("*.svg"))
    assert pngs, "no figure written"
    assert [p.stem for p in pngs] == [s.stem for s in svgs]
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for svg in svgs:
        assert "<svg" in svg.read_text(encoding="utf-8")[:2000]
    # Self-contained: every figure is embedded, nothing is fetched.
    assert html.count('src="data:image/png;base64,') == len(pngs)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for title in (
        "USI leaderboard",
        "USI against general capability",
        "The taxonomy view",
        "The evaluative gap",
        "Reward vs human judgment",
        "Easy mode",
        "LLM as evaluator",
    ):
        assert title in html
    assert html.count("How to read this") == len(SECTIONS)
    expected = {
        "leaderboard_usi",
        "leaderboard_components",
        "capability_usi",
        "taxonomy_ratios",
        "taxonomy_dice",
        "evaluative_distributions",
        "evaluative_overestimation",
        "reward_vs_judgment",
        "easy_mode_inflation",
        "easy_mode_tasks",
        "judge_vs_participants",
    }
    assert {p.stem for p in pngs} == expected
    csvs = {p.stem for p in (report_dir / "tables").glob("*.csv")}
    mds = {p.stem for p in (report_dir / "tables").glob("*.md")}
    assert csvs == mds
    assert {"leaderboard", "capability_fits", "taxonomy_all", "reward_association"} <= csvs
    assert not list(report_dir.parent.glob(".out.*")), "staging folder left behind"


def test_leaderboard_numbers_are_the_metrics_numbers(
    report_dir: Path, corpus: dict[str, Path]
) -> None:
    board = pd.read_csv(report_dir / "tables" / "leaderboard.csv")
    human = load_table(corpus["human"])
    assert board["simulator"].iloc[0] == "Humans (ceiling)"
    assert board["USI"].iloc[0] == pytest.approx(human_ceiling(human).value)
    for name in SIM_STYLES:
        result = score_simulator(load_table(corpus[name]), human, name)
        row = board[board["simulator"] == name].iloc[0]
        assert row["USI"] == pytest.approx(result.usi.value)
        assert row["ci_low"] == pytest.approx(result.usi.ci_low)
        assert row["D1"] == pytest.approx(100 * result.components.D1)
        assert row["evaluation"] == pytest.approx(100 * result.components.evaluation)
        assert row["discriminator_auc"] == pytest.approx(result.fidelity.discriminator_auc)
    sims = board.iloc[1:]
    assert list(sims["USI"]) == sorted(sims["USI"], reverse=True), "not ranked by USI"


def test_report_names_each_simulators_divergences_and_the_ceilings_paired_tasks(
    report_dir: Path, corpus: dict[str, Path]
) -> None:
    human = load_table(corpus["human"])
    board = pd.read_csv(report_dir / "tables" / "leaderboard.csv").set_index("simulator")
    ceiling = human_ceiling(human)
    assert ceiling.n_tasks_paired > 0
    assert board.loc["Humans (ceiling)", "paired_tasks"] == ceiling.n_tasks_paired
    table = pd.read_csv(report_dir / "tables" / "divergences.csv")
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "Where each simulator differs most from people" in html
    for name in SIM_STYLES:
        result = score_simulator(load_table(corpus[name]), human, name)
        rows = table[table["simulator"] == name]
        assert list(rows["divergence"]) == [d.text for d in result.divergences[:3]]
        assert list(rows["rank"]) == [1, 2, 3]
    assert "how well one group of people matches another" in html


def test_known_gaps_show_up(report_dir: Path) -> None:
    """The scripted polite, formal, lenient, successful simulator is caught everywhere."""
    board = pd.read_csv(report_dir / "tables" / "leaderboard.csv").set_index("simulator")
    assert board.loc["mimic", "USI"] > board.loc["polite-llm", "USI"]
    assert board.loc["Humans (ceiling)", "USI"] > board.loc["polite-llm", "USI"]

    features = pd.read_csv(report_dir / "tables" / "taxonomy_all.csv")
    polite = features[(features["simulator"] == "polite-llm")].set_index("feature")
    assert bool(polite.loc["politeness_rate", "large_gap"])
    assert (
        polite.loc["politeness_rate", "sim_mean"] > 2 * polite.loc["politeness_rate", "human_mean"]
    )
    assert bool(polite.loc["short_utterance_rate", "large_gap"])

    gap = pd.read_csv(report_dir / "tables" / "evaluative_all.csv")
    lenient = gap[gap["simulator"] == "polite-llm"]
    assert (lenient["delta"] > 0).all()
    assert (lenient["relative"] > 0.1).mean() > 0.5

    easy = pd.read_csv(report_dir / "tables" / "easy_mode.csv").set_index("simulator")
    assert easy.loc["polite-llm", "inflation_pp"] > 10
    assert easy.loc["polite-llm", "inflation_pp"] > easy.loc["mimic", "inflation_pp"]
    assert easy.loc["polite-llm", "paired_tasks"] == 30

    judge = pd.read_csv(report_dir / "tables" / "judge_agreement.csv")
    assert len(judge) == 8
    assert (judge["paired_mae"] > 0).all()


def test_reward_association_matches_hand_computation() -> None:
    rng = np.random.default_rng(3)
    outcome = pd.Series(rng.integers(0, 2, 400))
    answers = pd.Series(np.clip(outcome + rng.integers(0, 3, 400), 0, 3))
    row = association_row(outcome, answers)
    table = pd.crosstab(outcome, answers).to_numpy().astype(float)
    n = table.sum()
    expected = np.outer(table.sum(1), table.sum(0)) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    assert row["chi2"] == pytest.approx(chi2)
    assert row["cramers_v"] == pytest.approx(math.sqrt(chi2 / (n * (min(table.shape) - 1))))
    p = table / n
    outer = np.outer(p.sum(1), p.sum(0))
    nonzero = p > 0
    mi = float((p[nonzero] * np.log(p[nonzero] / outer[nonzero])).sum())
    assert row["mutual_information"] == pytest.approx(mi)
    # Independent reward: no association to speak of.
    noise = association_row(
        pd.Series(rng.integers(0, 2, 4000)), pd.Series(rng.integers(0, 4, 4000))
    )
    assert noise["cramers_v"] < 0.06
    # One outcome only: undefined, not zero.
    assert math.isnan(association_row(pd.Series([1, 1, 1]), pd.Series([0, 1, 2]))["cramers_v"])


def test_capability_fit_and_band() -> None:
    x = np.array([1000.0, 1100.0, 1200.0, 1300.0])
    y = np.array([60.0, 64.0, 67.0, 73.0])
    fit = fit_family(x, y, x)
    slope, intercept = np.polyfit(x, y, 1)
    assert fit["slope"] == pytest.approx(slope)
    assert fit["intercept"] == pytest.approx(intercept)
    assert np.all(fit["low"] < fit["fitted"]) and np.all(fit["fitted"] < fit["high"])
    # Band of the mean: narrowest at the mean of x, width t(0.9, n-2)·s/sqrt(n) there.
    from scipy import stats

    resid = y - (intercept + slope * x)
    s = math.sqrt((resid**2).sum() / 2)
    centre = fit_family(x, y, np.array([x.mean()]))
    half = (centre["high"][0] - centre["low"][0]) / 2
    assert half == pytest.approx(stats.t.ppf(0.5 + BAND_LEVEL / 2, 2) * s / 2)
    exact = fit_family(x, 2 * x + 1, x)
    assert np.allclose(exact["low"], exact["high"])


def only_sections(monkeypatch: pytest.MonkeyPatch, *keys: str) -> None:
    """Build only some sections: tests about other things need not draw every figure."""
    import usi.report.build as build

    monkeypatch.setattr(build, "SECTIONS", tuple(s for s in SECTIONS if s[0] in keys))


def test_small_family_gets_points_only(
    corpus: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_sections(monkeypatch, "capability")
    capability = tmp_path / "cap.csv"
    capability.write_text(
        "model,family,score\npolite-llm,acme,1310\npersona,acme,1260\nmimic,other,1200\n",
        encoding="utf-8",
    )
    human = load_table(corpus["human"])
    sims = {n: load_table(corpus[n]) for n in SIM_STYLES}
    result = build_report(human, sims, tmp_path / "out", capability, definitions="usi-v2")
    section = next(s for s in result.sections if s.key == "capability")
    assert any("acme: 2 simulator(s), fewer than 3" in n for n in section.notes)
    assert len(section.figures) == 1
    fits = section.tables[1].frame
    assert fits["slope_per_capability_unit"].isna().all()


def test_missing_inputs_degrade_gracefully(tmp_path: Path) -> None:
    silent = UserStyle(answers_survey=0.0)
    human = load_table(generate("human", 60, 5, silent, n_tasks=10))
    sim = load_table(generate("sim", 60, 6, silent, n_tasks=10))
    path = write_report(human, {"sim": sim}, tmp_path / "out", definitions="usi-v2")
    html = path.read_text(encoding="utf-8")
    assert "No capability file given" in html
    assert "No survey answers in the human episodes: the evaluative gap cannot be shown." in html
    assert "No survey answers in the human episodes: nothing to compare." in html
    assert "run `usi judge` to add them" in html
    assert "Evaluative alignment not computed for all simulators" in html
    figures = {p.stem for p in (tmp_path / "out" / "figures").glob("*.png")}
    assert "capability_usi" not in figures and "evaluative_distributions" not in figures
    assert {"leaderboard_usi", "taxonomy_ratios", "easy_mode_inflation"} <= figures


def test_names_are_escaped_in_html(corpus: dict[str, Path], tmp_path: Path) -> None:
    human = load_table(corpus["human"])
    name = '<script>alert("x")</script>'
    path = write_report(
        human, {name: load_table(corpus["polite-llm"])}, tmp_path / "out", definitions="usi-v2"
    )
    html = path.read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("extra", "capability", "message"),
    [
        (["--sim", "nameless"], None, "--sim: expected NAME=FILE"),
        ([], "model,score\nmimic,1\n", "missing column(s) family"),
        ([], "model,family,score\nunknown,x,1\n", "model 'unknown' is not a --sim NAME"),
        ([], "model,family,score\nmimic,x,high\n", "score 'high' is not a number"),
        (["--focus", "nobody"], None, "--focus: 'nobody' is not a --sim NAME"),
        (["--sim", "ghost=/nonexistent/ghost.jsonl"], None, "ghost.jsonl: no such file"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    corpus: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    capability: str | None,
    message: str,
) -> None:
    args = ["report", "--human", str(corpus["human"]), "--sim", f"mimic={corpus['mimic']}"]
    if capability is not None:
        cap = tmp_path / "cap.csv"
        cap.write_text(capability, encoding="utf-8")
        args += ["--capability", str(cap)]
    out = tmp_path / "out"
    code, _, err = run_usi(capsys, *args, *extra, "-o", str(out))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("usi: error: "), err
    assert message in lines[0]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_that_is_a_file_is_bad_input(
    corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine", encoding="utf-8")
    args = ["report", "--human", str(corpus["human"]), "--sim", f"m={corpus['mimic']}"]
    code, _, err = run_usi(capsys, *args, "-o", str(taken))
    assert code == 2
    assert err.strip() == f"usi: error: {taken}: exists and is not a folder"
    assert taken.read_text(encoding="utf-8") == "mine"


def test_bad_episode_line_is_reported_with_its_place(
    corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.jsonl"
    lines = corpus["mimic"].read_text(encoding="utf-8").splitlines()
    broken.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n", encoding="utf-8")
    code, _, err = run_usi(
        capsys,
        "report",
        "--human",
        str(corpus["human"]),
        "--sim",
        f"b={broken}",
        "-o",
        str(tmp_path / "o"),
    )
    assert code == 2
    assert "broken.jsonl:line 2: invalid JSON line" in err
    assert not (tmp_path / "o").exists()


def test_failure_midway_keeps_the_previous_report(
    corpus: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_sections(monkeypatch, "leaderboard")
    human = load_table(corpus["human"])
    sims = {"mimic": load_table(corpus["mimic"])}
    out = tmp_path / "out"
    first = write_report(human, sims, out, definitions="usi-v2")
    before = first.read_bytes()

    import usi.report.render as render

    def explode(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(render, "_write_files", explode)
    with pytest.raises(OSError, match="disk full"):
        write_report(human, sims, out, definitions="usi-v2")
    assert first.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_cli_prints_the_report_path(
    corpus: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    only_sections(monkeypatch, "taxonomy")
    out = tmp_path / "rep"
    code, stdout, _ = run_usi(
        capsys,
        "report",
        "--human",
        str(corpus["human"]),
        "--sim",
        f"mimic={corpus['mimic']}",
        "--focus",
        "mimic",
        "--definitions",
        "usi-v2",
        "-o",
        str(out),
    )
    assert code == 0
    assert stdout.strip().splitlines()[-1] == str(out / "report.html")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Simulators in focus</th><td>mimic</td>" in html
    wide = pd.read_csv(out / "tables" / "taxonomy_focus_wide.csv")
    assert list(wide.columns) == ["dimension", "feature", "human", "mimic"]


def test_worker_processes_give_the_same_scores(tmp_path: Path) -> None:
    """Loading and scoring in worker processes (from 4 simulators on) changes no number."""
    from usi.report.scores import score_all
    from usi.report.workers import worker_pool

    human = load_table(generate("human", 60, 7, n_tasks=10, n_batches=2))
    styles = [*SIM_STYLES.values(), UserStyle()]
    sims = {
        f"s{i}": write_corpus(tmp_path / f"s{i}.jsonl", generate(f"s{i}", 40, i, style, 10))
        for i, style in enumerate(styles)
    }
    tables, serial, ceiling, _ = score_all(human, sims)
    with worker_pool(2) as pool:
        assert pool is not None
        tables_again, parallel, ceiling_again, _ = score_all(human, sims, pool=pool)
    assert list(parallel) == list(sims)
    for name in sims:
        pd.testing.assert_frame_equal(tables[name], tables_again[name])
        assert parallel[name].usi == serial[name].usi
        assert parallel[name].components == serial[name].components
        assert parallel[name].fidelity == serial[name].fidelity
        pd.testing.assert_frame_equal(parallel[name].features, serial[name].features)
    assert ceiling is not None and ceiling_again is not None
    assert ceiling.usi == ceiling_again.usi

    # A bad file read by a worker is still one clear error naming the file and line.
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"episode_id": "x", "source": "s"}\n', encoding="utf-8")
    with worker_pool(2) as pool, pytest.raises(UsiInputError, match=r"bad.jsonl:line 1: "):
        score_all(human, {**sims, "bad": bad}, pool=pool)


def test_no_rewards_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    only_sections(monkeypatch, "easy_mode", "reward", "leaderboard")
    human = load_table(generate("human", 60, 5, n_tasks=10)).assign(reward=np.nan)
    sim = load_table(generate("sim", 60, 6, n_tasks=10)).assign(reward=np.nan)
    result = build_report(human, {"sim": sim}, tmp_path / "out", definitions="usi-v2")
    notes = {s.key: s.notes for s in result.sections}
    assert notes["easy_mode"] == [
        "No rewards in the human episodes: success rates cannot be compared."
    ]
    assert notes["reward"] == ["No rewards in the human episodes: nothing to split by."]
    assert any(
        n.startswith("Outcome alignment not computed for all simulators")
        for n in notes["leaderboard"]
    )
    board = pd.read_csv(tmp_path / "out" / "tables" / "leaderboard.csv")
    assert board["outcome"].isna().all()


def test_one_sided_rewards_and_unpaired_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_sections(monkeypatch, "easy_mode", "reward")
    human = load_table(generate("human", 60, 5, n_tasks=10)).assign(reward=1.0)
    sim = load_table(generate("sim", 60, 6, n_tasks=10))
    sim["task_id"] = "other-" + sim["task_id"].astype(str)
    result = build_report(human, {"sim": sim}, tmp_path / "out", definitions="usi-v2")
    notes = {s.key: s.notes for s in result.sections}
    assert notes["reward"] == [
        "Every human episode with a reward succeeded: no split, no association to measure."
    ]
    assert notes["easy_mode"] == ["No task with rewards on both sides for: sim (left out)."]


def test_log_ratio_places_zeros_at_the_edges() -> None:
    from usi.report.sections.taxonomy import RATIO_CLIP, log_ratio

    sim = np.array([2.0, 0.5, 0.0, 3.0, 0.0, 1000.0])
    human = np.array([1.0, 1.0, 0.0, 0.0, 2.0, 1.0])
    assert log_ratio(sim, human).tolist() == [1.0, -1.0, 0.0, RATIO_CLIP, -RATIO_CLIP, RATIO_CLIP]


@pytest.mark.parametrize("definitions", ["tau-usi", "usi-v2"])
def test_each_file_is_read_once(
    corpus: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, definitions: str
) -> None:
    """The usi-v2 table, the tau-usi table and the audit come out of one read of each file;
    a simulator in the people's file is not read again for it."""
    from collections import Counter

    from usi.audit import summary
    from usi.data import readers

    only_sections(monkeypatch, "audit")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(corpus["human"].read_bytes() + corpus["mimic"].read_bytes())
    opened: Counter[str] = Counter()
    sniff = readers._sniff

    def counting(path: Path) -> object:
        opened[Path(path).name] += 1
        return sniff(path)

    def no_second_read(*args: object, **kwargs: object) -> object:
        raise AssertionError("the audit read a file again")

    import usi.report.build as build

    sims = {"mimic": mixed, "persona": corpus["persona"]}
    expected = summary.report_audit(mixed, sims)  # every file audited by itself
    made: list[summary.ReportAudit] = []
    report_audit = build.report_audit

    def keep(*args: object) -> summary.ReportAudit:
        made.append(report_audit(*args))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(readers, "_sniff", counting)
    monkeypatch.setattr(summary, "audit_file", no_second_read)
    monkeypatch.setattr(build, "report_audit", keep)
    build_report(mixed, sims, tmp_path / "out", workers=1, definitions=definitions)
    assert opened == Counter({"mixed.jsonl": 1, "persona.jsonl": 1})
    (audit,) = made
    assert audit.comparisons == expected.comparisons and set(audit.comparisons) == set(sims)
    assert audit.examples == expected.examples
