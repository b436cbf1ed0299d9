"""The simulators' own mistakes (``usi audit``), shown beside USI, never inside it."""

from __future__ import annotations

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from usi.audit.models import KINDS, AuditComparison, KindRate
from usi.audit.summary import Example
from usi.report.context import ReportData
from usi.report.model import Section, Table

GUIDE = (
    "Rule-based checks of every user turn (usi.audit): the user ending the conversation "
    "before the task's write action ran (premature_stop), stating an id it was never given "
    "(hallucinated_identifier), revealing its instruction (instruction_leak), speaking as the "
    "agent (role_confusion), repeating itself three times (repetition_loop) and empty turns "
    "(empty_turn). Each cell is the share of episodes with at least one such error, among the "
    "episodes the check could run on; the human column applies the same rules to the people, "
    'who make mistakes too. "Failed with ≥ 1 error" is the share of the agent\'s failures '
    "(reward 0) in which the user made a mistake: failures attributable to the simulator, "
    "not the agent. These figures are beside USI, not part of it."
)
#: Quotes longer than this are cut (the full evidence is in the CSV).
QUOTE_CHARS = 240


def _percent(rate: KindRate | None) -> float | None:
    return None if rate is None or rate.rate is None else 100.0 * rate.rate


def rates_frame(comparisons: dict[str, AuditComparison]) -> pd.DataFrame:
    """Rows: the kinds, any error, attributable failures; columns: simulators, then humans."""
    human = next((c.human for c in comparisons.values() if c.human is not None), None)
    rows = []
    for label in (*KINDS, "any error", "failed with ≥ 1 error"):
        row: dict[str, object] = {"error": label}
        sides = {name: c.simulator for name, c in comparisons.items()}
        if human is not None:
            sides["human"] = human
        for name, side in sides.items():
            if label == "any error":
                rate = side.any_error
            elif label == "failed with ≥ 1 error":
                rate = side.attributable_failures
            else:
                rate = side.kinds[label]
            row[f"{name} (%)"] = _percent(rate)
        rows.append(row)
    return pd.DataFrame(rows)


def examples_frame(examples: list[Example]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "kind": e.kind,
                "simulator": e.source,
                "episode_id": e.episode_id,
                "turn": e.error.turn,
                "evidence": e.error.evidence,
            }
            for e in examples
        ],
        columns=["kind", "simulator", "episode_id", "turn", "evidence"],
    )


def examples_html(examples: list[Example]) -> Markup:
    """The examples as quotes, through an autoescaping template (the text is the user's)."""
    environment = Environment(
        loader=PackageLoader("usi.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    shown = [
        {
            "kind": e.kind,
            "source": e.source,
            "episode_id": e.episode_id,
            "turn": e.error.turn,
            "quote": e.error.evidence
            if len(e.error.evidence) <= QUOTE_CHARS
            else e.error.evidence[: QUOTE_CHARS - 1] + "…",
        }
        for e in examples
    ]
    return Markup(environment.get_template("audit_examples.html.j2").render(examples=shown))


def build(data: ReportData) -> Section:
    """The audit section, or a note when no simulator file could be audited."""
    section = Section(key="audit", title="Simulator errors (beside USI)", guide=GUIDE)
    audit = data.audit
    if audit is None or not audit.comparisons:
        section.notes.append("No simulator episodes with conversations to audit: section omitted.")
        return section
    section.notes.extend(audit.notes)
    frame = rates_frame(audit.comparisons)
    section.tables.append(Table("audit_rates", "Share of episodes with each error (%)", frame, 1))
    if audit.examples:
        section.tables.append(
            Table(
                "audit_examples", "One example per kind", examples_frame(audit.examples), 0, False
            )
        )
        section.html = examples_html(audit.examples)
    return section
