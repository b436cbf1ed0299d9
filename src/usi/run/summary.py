"""What a run did (:class:`RunSummary`), and the one line the CLI prints of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunSummary:
    """What a run did; the CLI prints it."""

    out: Path
    tau2_results: Path | None
    planned: int
    skipped: int
    finished: int = 0
    errors: int = 0
    first_error: str | None = None
    rerun: int = 0
    rewards: list[float] = field(default_factory=list)
    dropped_torn_line: bool = False
    dropped_duplicates: int = 0
    backend: str = "thread"

    @property
    def all_failed(self) -> bool:
        """Every episode of this run failed (an infrastructure problem, not behaviour)."""
        return self.finished > 0 and self.errors == self.finished

    @property
    def success_rate(self) -> float | None:
        return sum(r >= 1.0 for r in self.rewards) / len(self.rewards) if self.rewards else None


def summary_line(summary: RunSummary) -> str:
    """What the run did, in one line: counts, failures with the first error, success, files."""
    rate = summary.success_rate
    text = f"{summary.finished} episode(s) run, {summary.skipped} already done"
    if summary.rerun:
        text += f" ({summary.rerun} failed before, run again)"
    if summary.dropped_duplicates:
        text += f" ({summary.dropped_duplicates} written twice by overlapping runs, dropped)"
    if summary.errors:
        text += f", {summary.errors} failed (first error: {summary.first_error})"
    if rate is not None:
        text += f"; success {rate:.0%} over the episodes of this run that ran"
    if summary.finished and summary.backend != "thread":
        text += f" ({summary.backend} backend)"
    text += f" → {summary.out}"
    if summary.tau2_results:
        text += f" (τ² results: {summary.tau2_results})"
    return text


def failure_line(summary: RunSummary) -> str:
    """The one line of a run whose every episode failed (the CLI exits 1 with it)."""
    return (
        f"all {summary.finished} episode(s) failed, none recorded as behaviour; "
        f"first error: {summary.first_error} (fix it, then rerun with --resume) → {summary.out}"
    )
