"""The audit beside USI: the comparison model, the ``audit`` block of ``usi score --json``,
and the report section with one escaped example per kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from usi.audit import audit_file, summarise
from usi.audit.models import KindRate, SideAudit
from usi.audit.summary import compare
from usi.data.io import write_episodes
from usi.inputs.table import human_rows
from usi.metrics import load_table, score_simulator
from usi.report.synthetic import SIM_STYLES, generate
from usi_main import Usi

from ._episodes import agent, episode, retail_clean, retail_opening, user


def _side(source: str, flagged: dict[str, tuple[int, int]]) -> SideAudit:
    kinds = {
        k: KindRate(flagged=f, checked=c, rate=f / c if c else None)
        for k, (f, c) in flagged.items()
    }
    return SideAudit(
        source=source,
        n_episodes=10,
        kinds=kinds,
        any_error=KindRate(flagged=4, checked=10, rate=0.4),
        attributable_failures=KindRate(flagged=2, checked=5, rate=0.4),
    )


def test_excess_is_the_simulator_rate_minus_the_human_rate_per_kind() -> None:
    kinds = ("premature_stop", "hallucinated_identifier", "instruction_leak")
    rest = ("role_confusion", "repetition_loop", "empty_turn")
    sim = _side("sim", {**dict.fromkeys(kinds, (3, 10)), **dict.fromkeys(rest, (0, 10))})
    human = _side("human", {**dict.fromkeys(kinds, (1, 10)), **dict.fromkeys(rest, (0, 0))})
    result = compare(sim, human)
    assert result.excess["premature_stop"] == pytest.approx(0.2)
    assert result.excess["role_confusion"] is None  # nothing checked on the human side
    assert compare(sim, None).excess == dict.fromkeys((*kinds, *rest))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("audit-corpus")
    style = next(iter(SIM_STYLES.values()))
    # The hand-written ones first: the report quotes the first example of each kind.
    sims = [
        episode([*retail_opening(), user("ok bye ###STOP###")], episode_id="stop"),
        episode(
            [m for _ in range(3) for m in (agent("?"), user("<b>I need my keyboard swapped</b>"))],
            episode_id="loop",
        ),
        *generate("sim", 40, 2, style, n_tasks=10),
    ]
    humans = generate("human", 40, 1, n_tasks=10, n_batches=2)
    humans.append(retail_clean().model_copy(update={"episode_id": "h-clean", "source": "human"}))
    sim_path, human_path = root / "sim.jsonl", root / "human.jsonl"
    write_episodes(sim_path, sims)
    write_episodes(human_path, humans)
    return sim_path, human_path


def test_score_json_carries_the_audit_beside_an_unchanged_usi(
    corpus: tuple[Path, Path], usi: Usi
) -> None:
    sim_path, human_path = corpus
    result = usi(
        "score",
        "--definitions",
        "usi-v2",
        sim_path,
        "--human",
        human_path,
        "--json",
        "--bootstrap",
        "20",
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # notes (few tasks paired) go to stderr
    block = payload.pop("audit")
    # The audit is beside USI: without it the object is exactly the score.
    table, humans = load_table(sim_path), human_rows(load_table(human_path))
    assert payload == json.loads(
        json.dumps(score_simulator(table, humans, "sim", n_bootstrap=20).model_dump())
    )
    # ... and it is the audit of both files computed directly.
    sim_side = summarise(audit_file(sim_path), "sim")
    human_side = summarise([a for a in audit_file(human_path) if a.source == "human"], "human")
    assert block == json.loads(json.dumps(compare(sim_side, human_side).model_dump()))
    assert block["simulator"]["kinds"]["premature_stop"]["flagged"] >= 1
    assert block["simulator"]["kinds"]["repetition_loop"]["flagged"] >= 1
    assert set(block) == {"simulator", "human", "excess", "definitions"}


def test_report_section_shows_the_table_and_escaped_examples(
    corpus: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import usi.report.build as build
    from usi.report.build import SECTIONS, build_report

    monkeypatch.setattr(build, "SECTIONS", tuple(s for s in SECTIONS if s[0] == "audit"))
    sim_path, human_path = corpus
    result = build_report(human_path, {"flaky-sim": sim_path}, tmp_path / "out", workers=0)
    (section,) = result.sections
    frame = section.tables[0].frame
    assert list(frame.columns) == ["error", "flaky-sim (%)", "human (%)"]
    html = result.path.read_text(encoding="utf-8")
    assert 'id="audit"' in html and "Simulator errors (beside USI)" in html
    assert 'id="audit-repetition_loop"' in html and 'id="audit-premature_stop"' in html
    assert "&lt;b&gt;I need my keyboard swapped&lt;/b&gt;" in html
    assert "<b>I need my keyboard swapped</b>" not in html
    examples = (tmp_path / "out" / "tables" / "audit_examples.csv").read_text(encoding="utf-8")
    assert "<b>I need my keyboard swapped</b>" in examples  # files keep the raw evidence


def test_no_audit_leaves_the_score_as_it_is(corpus: tuple[Path, Path], usi: Usi) -> None:
    """--no-audit only drops the block beside USI: the score is the same object."""
    sim_path, human_path = corpus
    args = [
        "score",
        "--definitions",
        "usi-v2",
        str(sim_path),
        "--human",
        str(human_path),
        "--json",
        "--bootstrap",
        "20",
    ]
    with_audit = json.loads(usi(*args).stdout)
    without = json.loads(usi(*args, "--no-audit").stdout)
    assert with_audit.pop("audit") is not None
    assert without.pop("audit") is None
    assert without == with_audit


def test_tallies_give_the_shares_of_the_audits(corpus: tuple[Path, Path]) -> None:
    from usi.audit.models import JudgeVerdict

    audits = audit_file(corpus[0])
    audits[0] = audits[0].model_copy(update={"judge": JudgeVerdict(model="m", score=4.0)})
    audits[1] = audits[1].model_copy(update={"judge": JudgeVerdict(model="m", error="timeout")})
    tallies = [a.tally() for a in audits]
    assert summarise(tallies, "sim") == summarise(audits, "sim")
    assert summarise(tallies, "sim").judge_scored == 1
    first = tallies[0]
    assert first.kinds == audits[0].kinds() and first.skipped == tuple(audits[0].skipped)
    # the same set of kinds is one object, however many episodes have it
    common = max({t.kinds for t in tallies}, key=[t.kinds for t in tallies].count)
    same = [t.kinds for t in tallies if t.kinds == common]
    assert len(same) > 1 and all(kinds is same[0] for kinds in same)


def test_an_episode_tallied_as_its_audit_is(corpus: tuple[Path, Path]) -> None:
    from usi.audit.runner import audit_episode, tally_episode
    from usi.data.readers import iter_episodes

    for path in corpus:
        for read in iter_episodes(path):
            assert tally_episode(read) == audit_episode(read).tally()
