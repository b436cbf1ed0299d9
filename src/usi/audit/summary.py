"""The audit beside USI: a simulator's error rates next to the people's, for score and report.

USI measures how *alike* a simulator and people behave; the audit counts *mistakes*, which
people make too. So every simulator figure comes with the human baseline on the same rules,
the excess over it per kind, and the share of the simulator's failed episodes that carry a
simulator error (agent failures attributable to the simulator). Nothing here enters USI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from usi.audit.models import (
    KINDS,
    AuditComparison,
    AuditError,
    AuditTally,
    EpisodeAudit,
    SideAudit,
)
from usi.audit.runner import audit_file, summarise
from usi.core.episode import HUMAN_SOURCE

if TYPE_CHECKING:
    from usi.inputs.sides import Sides


def compare(simulator: SideAudit, human: SideAudit | None) -> AuditComparison:
    """The simulator's rates, the human baseline, and the excess per kind."""
    excess: dict[str, float | None] = {}
    for kind in KINDS:
        mine = simulator.kinds[kind].rate
        theirs = human.kinds[kind].rate if human is not None else None
        excess[kind] = mine - theirs if mine is not None and theirs is not None else None
    return AuditComparison(simulator=simulator, human=human, excess=excess)


@dataclass
class AuditedFiles:
    """Audits of the episodes of some files, by source, with one example per kind."""

    by_source: dict[str, list[EpisodeAudit]] = field(default_factory=dict)

    def add(self, source: str, audit: EpisodeAudit) -> None:
        self.by_source.setdefault(source, []).append(audit)

    def side(self, source: str) -> SideAudit | None:
        audits = self.by_source.get(source)
        return summarise(audits, source) if audits else None


def audit_files(
    sims: Mapping[str, Path] | Sequence[Path],
    human: Path | None,
    done: Mapping[Path, list[EpisodeAudit]] | None = None,
) -> tuple[AuditedFiles, SideAudit | None]:
    """Audit simulator files (their non-human episodes) and the people of ``human``.

    ``sims`` is either ``{name: file}`` (``usi report``: every simulator episode of the file
    is that name's) or a list of files (``usi score``: each non-human source is a simulator,
    one source spread over files is merged). Each distinct file is read once, and not at
    all when ``done`` (resolved path → the audits of its kept episodes, from the pass that
    read it) has it.
    """
    audited = AuditedFiles()
    people = AuditedFiles()
    pairs: list[tuple[str | None, Path]] = (
        list(sims.items()) if isinstance(sims, Mapping) else [(None, p) for p in sims]
    )
    seen: dict[Path, list[EpisodeAudit]] = dict(done or {})

    def audits_of(path: Path) -> list[EpisodeAudit]:
        key = path.resolve()
        if key not in seen:
            seen[key] = audit_file(path)
        return seen[key]

    for name, path in pairs:
        for audit in audits_of(path):
            if audit.source != HUMAN_SOURCE:
                audited.add(name or audit.source, audit)
    if human is not None:
        for audit in audits_of(human):
            if audit.source == HUMAN_SOURCE:
                people.add(HUMAN_SOURCE, audit)
    return audited, people.side(HUMAN_SOURCE)


def score_audit(sides: Sides, human: Path) -> dict[str, dict[str, object]]:
    """The ``audit`` block of ``usi score --json``: row name → comparison (JSON-ready).

    One entry per scored row, named and filled as the scores are (``sides.origins``: a
    source found in several files is one row per file), over the same episodes. Files read
    with the audit in their pass (``read_input(per_episode=tally_episode)``) are not read
    again; any other is audited here.
    """
    seen: dict[Path, Sequence[EpisodeAudit | AuditTally]] = {}

    def audits_of(path: Path) -> Sequence[EpisodeAudit | AuditTally]:
        key = path.resolve()
        if key not in seen:
            read = sides.inputs.get(key)
            done = read.per_episode if read is not None else None
            seen[key] = done if done is not None else audit_file(path)
        return seen[key]

    people = [a for a in audits_of(human) if a.source == HUMAN_SOURCE]
    baseline = summarise(people, HUMAN_SOURCE) if people else None
    result: dict[str, dict[str, object]] = {}
    for row, origin in sides.origins.items():
        if origin.path is None:
            continue
        group = [a for a in audits_of(origin.path) if a.source == origin.source]
        if group:
            result[row] = compare(summarise(group, row), baseline).model_dump()
    return result


@dataclass(frozen=True)
class Example:
    """One quoted instance of a kind, for the report."""

    kind: str
    source: str
    episode_id: str
    error: AuditError


def examples(audits: Mapping[str, Iterable[EpisodeAudit]]) -> list[Example]:
    """The first error of each kind, simulators in the given order (deterministic)."""
    found: dict[str, Example] = {}
    for source, group in audits.items():
        for audit in group:
            for error in audit.errors:
                if error.kind not in found:
                    found[error.kind] = Example(error.kind, source, audit.episode_id, error)
    return [found[kind] for kind in KINDS if kind in found]


@dataclass
class ReportAudit:
    """What the report's audit section draws: comparisons, examples, and what was left out."""

    comparisons: dict[str, AuditComparison]
    examples: list[Example]
    notes: list[str] = field(default_factory=list)


def report_audit(
    human: object,
    sims: Mapping[str, object],
    done: Mapping[Path, list[EpisodeAudit]] | None = None,
) -> ReportAudit:
    """The audit of the report's inputs; inputs given as tables (no messages) are noted.
    ``done``: audits already made in the pass that read a file (see :func:`audit_files`)."""
    files = {name: Path(s) for name, s in sims.items() if isinstance(s, str | Path)}
    notes = [
        f"{name}: given as several files, not audited"
        if isinstance(sims[name], tuple)
        else f"{name}: given as a table without conversations, not audited"
        for name in sims
        if name not in files
    ]
    human_path = Path(human) if isinstance(human, str | Path) else None
    if human_path is None:
        notes.append("the human episodes were given as a table: no human baseline")
    audited, baseline = audit_files(files, human_path, done)
    comparisons = {}
    for name in files:
        side = audited.side(name)
        if side is not None:
            comparisons[name] = compare(side, baseline)
    return ReportAudit(comparisons, examples(audited.by_source), notes)
