"""Everything a section may draw from, loaded and scored once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from usi.report.scores import SimScore

if TYPE_CHECKING:
    from usi.audit.summary import ReportAudit

#: How many simulators the detailed views (taxonomy, distributions) show by default:
#: more rows than this stop being readable at report width.
DEFAULT_FOCUS = 3


@dataclass
class ReportData:
    """Tables, scores and options shared by all sections."""

    human: pd.DataFrame
    sims: dict[str, pd.DataFrame]
    scores: dict[str, SimScore]
    ceiling: SimScore | None
    capability: pd.DataFrame | None = None
    #: Simulators the detailed views show, best first.
    focus: list[str] = field(default_factory=list)
    #: Why the human ceiling is absent, when it is.
    ceiling_note: str = ""
    #: Warnings of the input rules (episodes left out, tasks τ² does not have, …).
    notes: list[str] = field(default_factory=list)
    #: The simulators' own mistakes beside the human baseline (usi.audit), shown beside USI.
    audit: ReportAudit | None = None

    def ranked(self) -> list[str]:
        """Simulator names by USI, best first (unscored last, then by name)."""

        def key(name: str) -> tuple[int, float, str]:
            usi = self.scores[name].usi
            return (usi is None, -(usi if usi is not None else 0.0), name)

        return sorted(self.sims, key=key)


def choose_focus(data: ReportData, requested: list[str] | None) -> list[str]:
    """The requested simulators, or the best, the median and the worst by USI."""
    if requested:
        return list(requested)
    ranked = data.ranked()
    if len(ranked) <= DEFAULT_FOCUS:
        return ranked
    picks = [ranked[0], ranked[len(ranked) // 2], ranked[-1]]
    return list(dict.fromkeys(picks))
