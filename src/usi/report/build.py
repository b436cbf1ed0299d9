"""Build the whole report: load and score once, draw every section, write all files at once.

Inputs are validated before anything heavy runs, and all outputs are written into a
temporary sibling of the output folder and moved into place only when every file exists,
so bad input or a crash never leaves a half-written report behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import pandas as pd

from usi.audit.models import EpisodeAudit
from usi.audit.runner import audit_episode
from usi.audit.summary import report_audit
from usi.errors import UsiInputError
from usi.fingerprint.definitions import DEFAULT as DEFAULT_DEFINITIONS
from usi.fingerprint.definitions import get_definitions
from usi.inputs.sides import human_side
from usi.report.context import ReportData, choose_focus
from usi.report.inputs import TableInput, load_capability, load_input, source_files
from usi.report.model import Section
from usi.report.render import render_html, write_tree
from usi.report.scores import Warn, load_all, score_all, score_all_tau_usi
from usi.report.sections import (
    audit,
    capability,
    easy_mode,
    evaluative,
    judge_agreement,
    leaderboard,
    reward,
    taxonomy,
)
from usi.report.style import report_style
from usi.report.workers import default_workers, worker_pool

REPORT_FILE = "report.html"

SectionBuilder = Callable[[ReportData], Section]
#: The report's sections, in reading order.
SECTIONS: tuple[tuple[str, SectionBuilder], ...] = (
    ("leaderboard", leaderboard.build),
    ("capability", capability.build),
    ("taxonomy", taxonomy.build),
    ("evaluative", evaluative.build),
    ("reward", reward.build),
    ("easy_mode", easy_mode.build),
    ("judge", judge_agreement.build),
    ("audit", audit.build),
)

#: Called with (stage, detail) after each step (table loaded, simulator scored, section
#: drawn, files written); the CLI turns it into a progress bar.
Progress = Callable[[str, str], None]


@dataclass
class ReportResult:
    """Where the report went and how long each stage took (seconds)."""

    path: Path
    sections: list[Section]
    timings: dict[str, float] = field(default_factory=dict)
    #: Warnings of the shared input rules (:mod:`usi.inputs.sides`), each once.
    notes: list[str] = field(default_factory=list)


def draw_section(key: str, data: ReportData) -> Section:
    """Build one section (figures rendered) and record how long it took."""
    builder = dict(SECTIONS)[key]
    started = time.perf_counter()
    with report_style():
        section = builder(data)
    section.seconds = time.perf_counter() - started
    return section


def _check_sources(
    human: TableInput,
    sims: Mapping[str, TableInput],
    definitions: str,
    ratings: Mapping[str, Path],
) -> None:
    """Fail on a missing file, or a table a definition set cannot use, before any work."""
    get_definitions(definitions)
    for source in (human, *sims.values(), *ratings.values()):
        if isinstance(source, pd.DataFrame):
            if definitions != "usi-v2":
                raise UsiInputError(
                    f"a table given as is holds one definition set's features: definitions "
                    f"{definitions} needs the episode files (or definitions usi-v2)"
                )
            continue
        for path in source_files(source):
            if not path.is_file():
                raise UsiInputError("no such file" if not path.exists() else "not a file", path)
    if ratings and definitions != "tau-usi":
        raise UsiInputError(
            "RATINGS belong to --definitions tau-usi (the Eval term)", where="--sim"
        )
    for name in ratings:
        if name not in sims:
            raise UsiInputError(f"ratings for {name!r}, which is not a --sim NAME", where="--sim")


def _repeated_files(sims: Mapping[str, TableInput]) -> list[str]:
    """A warning per file given for several ``--sim`` names (each scores the same episodes)."""
    names: dict[Path, list[str]] = {}
    labels: dict[Path, str] = {}
    for name, source in sims.items():
        if isinstance(source, str | Path):
            key = Path(source).resolve()
            names.setdefault(key, []).append(name)
            labels.setdefault(key, str(source))
    return [
        f"{labels[key]}: given for --sim {', '.join(given)}: the same episodes under each name"
        for key, given in names.items()
        if len(given) > 1
    ]


def build_report(
    human: TableInput,
    sims: Mapping[str, TableInput],
    out_dir: str | Path,
    capability_csv: str | Path | None = None,
    focus: Sequence[str] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    warn: Warn | None = None,
    definitions: str = DEFAULT_DEFINITIONS,
    ratings: Mapping[str, Path] | None = None,
) -> ReportResult:
    """Write ``out_dir``/report.html plus figures (PNG, SVG) and tables (CSV, Markdown).

    Inputs are read by the rules ``usi score`` uses (:mod:`usi.inputs.sides`), so the report
    shows the numbers ``usi score`` prints for the same files: the people are the human
    episodes of ``human``; each ``sims`` input holds one simulator (people in it are not
    counted); failed runs are left out. Each warning goes to ``warn`` as it is found, and
    into the report's header.

    ``workers``: processes that load and score simulators and draw sections (default: one
    per core from 4 simulators on, see :func:`usi.report.workers.default_workers`).

    ``definitions``: the set behind the leaderboard, the capability figure and the header
    (``tau-usi``, the paper's, by default); the per-feature, survey and fidelity analyses
    are usi-v2's and say so. ``ratings``: simulator name → its tau-usi Eval ratings file.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def tick(stage: str, detail: str = "") -> None:
        if progress is not None:
            progress(stage, detail)

    notes: list[str] = []

    def note(text: str) -> None:
        if text not in notes:
            notes.append(text)
            if warn is not None:
                warn(text)

    if not sims:
        raise UsiInputError("at least one simulator is required", where="--sim")
    for name in focus or ():
        if name not in sims:
            raise UsiInputError(
                f"{name!r} is not a --sim NAME (known: {', '.join(sims)})", where="--focus"
            )
    ratings = dict(ratings or {})
    _check_sources(human, sims, definitions, ratings)
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise UsiInputError("exists and is not a folder", out_dir, None)
    capability_frame = load_capability(capability_csv, sims) if capability_csv is not None else None

    t = time.perf_counter()
    # Each file is read once: the usi-v2 table, the tau-usi one (when scoring by it) and
    # the audit of its episodes come out of the same pass.
    also = ("tau-usi",) if definitions == "tau-usi" else ()
    audit = audit_episode if isinstance(human, str | Path) else None
    human_input = load_input(human, "--human", also=also, per_episode=audit)
    human_table = human_side(human_input)
    for text in human_input.notes:
        note(text)
    for text in _repeated_files(sims):
        note(text)
    tick("loaded", "human episodes")
    timings["load human"] = time.perf_counter() - t

    n_workers = default_workers(len(sims)) if workers is None else workers
    with worker_pool(n_workers) as pool:
        t = time.perf_counter()
        loaded = load_all(
            sims, pool, human_input=human, warn=note, also=also, audit=True, human_read=human_input
        )
        sim_tables, scores, ceiling, ceiling_note = score_all(
            human_table,
            sims,
            lambda name: tick("loaded and scored", name),
            pool,
            loaded=loaded,
        )
        v2_scores = scores
        if definitions == "tau-usi":
            read_once = "tau-usi" in human_input.also  # a file; pooled files are read again
            tau_human = human_side(
                human_input.under("tau-usi")
                if read_once
                else load_input(human, "--human", "tau-usi")
            )
            scores, ceiling, ceiling_note = score_all_tau_usi(
                tau_human,
                sims,
                ratings,
                lambda name: tick("scored (tau-usi)", name),
                pool,
                loaded=loaded,
            )
        timings["load + score simulators"] = time.perf_counter() - t

        data = ReportData(
            human=human_table,
            sims=sim_tables,
            scores=scores,
            ceiling=ceiling,
            capability=capability_frame,
            ceiling_note=ceiling_note,
            notes=notes,
            definitions=definitions,
            v2_scores=v2_scores,
        )
        data.focus = choose_focus(data, list(focus) if focus else None)
        t = time.perf_counter()
        done: dict[Path, list[EpisodeAudit]] = {}
        for name, source in sims.items():
            audits = loaded[name].audits
            if isinstance(source, str | Path) and audits is not None:
                done[Path(source).resolve()] = audits
        if isinstance(human, str | Path) and human_input.per_episode is not None:
            done[Path(human).resolve()] = human_input.per_episode
        data.audit = report_audit(human, sims, done)
        timings["audit"] = time.perf_counter() - t

        t = time.perf_counter()
        keys = [key for key, _ in SECTIONS]
        drawn: Iterator[Section] = (
            map(draw_section, keys, repeat(data))
            if pool is None
            else pool.map(draw_section, keys, repeat(data))
        )
        sections: list[Section] = []
        for section in drawn:
            tick("drew", section.key)
            timings[f"section:{section.key}"] = section.seconds
            sections.append(section)
        timings["sections (wall)"] = time.perf_counter() - t

    t = time.perf_counter()
    html = render_html(sections, data)
    path = write_tree(Path(out_dir), sections, html, REPORT_FILE)
    tick("wrote", str(path))
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    return ReportResult(path=path, sections=sections, timings=timings, notes=notes)


def write_report(
    human: TableInput,
    sims: Mapping[str, TableInput],
    out_dir: str | Path,
    capability: str | Path | None = None,
    definitions: str = DEFAULT_DEFINITIONS,
) -> Path:
    """The report for ``usi demo`` and scripts: returns the path of report.html."""
    return build_report(human, sims, out_dir, capability, definitions=definitions).path
