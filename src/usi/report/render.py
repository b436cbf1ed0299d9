"""From sections to files: one self-contained HTML page, PNG/SVG figures, CSV/Markdown tables."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from usi.fingerprint.definitions import get_definitions
from usi.outputs import replace_dir
from usi.report.context import ReportData
from usi.report.model import Section
from usi.version import __version__

FIGURES_DIR = "figures"
TABLES_DIR = "tables"


def _environment() -> Environment:
    # autoescape=True: simulator names, notes and table cells come from user files.
    return Environment(
        loader=PackageLoader("usi.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def header_notes(data: ReportData) -> list[str]:
    """The signatures and notes of the tau-usi results, each once, naming who they concern."""
    results = [data.scores[n].tau for n in data.ranked()]
    if data.ceiling is not None:
        results.append(data.ceiling.tau)
    grouped: dict[str, list[str]] = {}
    for result in results:
        if result is None:
            continue
        for line in [f"signature: {result.signature}", *result.notes]:
            grouped.setdefault(line, []).append(result.simulator)
    everyone = len([r for r in results if r is not None])
    return [
        line if len(names) == everyone else f"{', '.join(names)}: {line}"
        for line, names in grouped.items()
    ]


def _inputs_summary(data: ReportData) -> list[tuple[str, str]]:
    human = data.human
    batches = human["batch"].dropna().nunique() if "batch" in human.columns else 0
    tasks = human["task_id"].dropna().nunique()
    sims = ", ".join(f"{n} ({len(t)})" for n, t in data.sims.items())
    rows = [
        ("Definitions", f"{data.definitions}: {get_definitions(data.definitions).description}"),
        ("Human episodes", f"{len(human)} on {tasks} tasks, {batches} batch(es)"),
        ("Simulators (episodes)", sims),
        ("Simulators in focus", ", ".join(data.focus)),
        ("Capability file", "given" if data.capability is not None else "not given"),
    ]
    if data.definitions != "usi-v2":
        rows.extend(("tau-usi", line) for line in header_notes(data))
        if data.ceiling is None:
            rows.append(("tau-usi", f"no human ceiling: {data.ceiling_note}"))
    if data.notes:
        rows.append(("Input warnings", "; ".join(data.notes)))
    return rows


def render_html(sections: list[Section], data: ReportData) -> str:
    """The report page; figures are embedded as data URIs, so the file stands alone."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        sections=sections,
        inputs=_inputs_summary(data),
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        figures_dir=FIGURES_DIR,
        tables_dir=TABLES_DIR,
    )


@contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A temporary folder beside ``out_dir`` (same file system, so moving is a rename)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_files(root: Path, sections: list[Section], html: str, report_file: str) -> None:
    (root / FIGURES_DIR).mkdir()
    (root / TABLES_DIR).mkdir()
    for section in sections:
        for figure in section.figures:
            (root / FIGURES_DIR / f"{figure.name}.png").write_bytes(figure.png)
            (root / FIGURES_DIR / f"{figure.name}.svg").write_text(figure.svg, encoding="utf-8")
        for table in section.tables:
            table.frame.to_csv(root / TABLES_DIR / f"{table.name}.csv", index=False)
            (root / TABLES_DIR / f"{table.name}.md").write_text(table.markdown(), encoding="utf-8")
    (root / report_file).write_text(html, encoding="utf-8")


def write_tree(out_dir: Path, sections: list[Section], html: str, report_file: str) -> Path:
    """Write everything into a staging folder, then put it in place of ``out_dir`` whole.

    An old report at ``out_dir`` is replaced, never merged: no stale table of an earlier run
    survives beside the new report.html (the CLI's output guard decides whether it may be).
    """
    with staging_dir(out_dir) as staging:
        _write_files(staging, sections, html, report_file)
        replace_dir(staging, out_dir)
    return out_dir / report_file
