"""The audit as a rich table: one column per source, the human baseline beside them."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from usi.audit.models import KINDS, KindRate, SideAudit

#: What a skipped check needs, for the note under the table.
SKIP_REASONS: dict[str, str] = {
    "premature_stop": "needs an aligned τ² task and the agent's messages",
    "hallucinated_identifier": "needs the instruction (an aligned task or a card)",
    "hallucinated_identifier:unseen": "the agent's messages were removed from the record; "
    "only contradictions of the instruction checked",
    "instruction_leak:copied_span": "needs the instruction; only meta-framing checked",
}


def share(rate: KindRate) -> str:
    """``12.5% (3/24)``, or an en dash when nothing was checked."""
    if rate.rate is None:
        return "–"
    return f"{100 * rate.rate:.1f}% ({rate.flagged}/{rate.checked})"


def audit_table(sides: Mapping[str, SideAudit]) -> Table:
    """Rows: episodes, each kind, any, attributable failures; columns: the sources."""
    table = Table(title="Simulator audit: share of episodes with each error")
    table.add_column("", no_wrap=True)
    for label in sides:
        table.add_column(label, justify="right", no_wrap=True)
    table.add_row("episodes", *(str(s.n_episodes) for s in sides.values()))
    table.add_section()
    for kind in KINDS:
        table.add_row(kind, *(share(s.kinds[kind]) for s in sides.values()))
    table.add_section()
    table.add_row("any error", *(share(s.any_error) for s in sides.values()))
    table.add_row(
        "failed episodes (reward 0) with ≥ 1 error",
        *(share(s.attributable_failures) for s in sides.values()),
    )
    if any(s.judge_scored for s in sides.values()):
        table.add_row(
            "judge: mean adherence (0–100)",
            *(
                f"{s.judge_mean_score:.1f} (n={s.judge_scored})"
                if s.judge_mean_score is not None
                else "–"
                for s in sides.values()
            ),
        )
    return table


def skip_notes(sides: Mapping[str, SideAudit]) -> list[str]:
    """One line per (source, skipped check): how many episodes and why."""
    notes: list[str] = []
    for label, side in sides.items():
        for check, count in sorted(side.skipped.items()):
            reason = SKIP_REASONS.get(check, "not applicable")
            notes.append(f"{label}: {check} skipped on {count} of {side.n_episodes} ({reason})")
    return notes


def render_audit(sides: Mapping[str, SideAudit], console: Console) -> None:
    console.print(audit_table(sides))
    for note in skip_notes(sides):
        console.print(f"note: {note}", highlight=False)
