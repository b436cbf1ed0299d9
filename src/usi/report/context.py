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
    #: The definition set of ``scores`` and ``ceiling``: the leaderboard, capability figure
    #: and header (:mod:`usi.fingerprint.definitions`).
    definitions: str = "usi-v2"
    #: The usi-v2 scores behind the per-feature, survey and fidelity analyses (taxonomy,
    #: evaluative gap, fidelity): ``scores`` itself when ``definitions`` is usi-v2.
    v2_scores: dict[str, SimScore] = field(default_factory=dict)

    @property
    def analyses(self) -> dict[str, SimScore]:
        """The usi-v2 scores the per-feature and survey analyses draw from."""
        return self.v2_scores or self.scores

    def v2_label(self) -> str | None:
        """The note a usi-v2 analysis carries in a report headed by another definition set."""
        if self.definitions == "usi-v2":
            return None
        return (
            f"Definitions usi-v2: the numbers of this section are usi-v2's (`usi score "
            f"--definitions usi-v2`), not the {self.definitions} leaderboard's; they show "
            "where behaviours differ, not the headline USI."
        )

    def ranked(self) -> list[str]:
        """Simulator names by USI, best first (unscored last, then by name)."""

        def key(name: str) -> tuple[int, float, str]:
            usi = self.scores[name].usi
            return (usi is None, -(usi if usi is not None else 0.0), name)

        return sorted(self.sims, key=key)


def v2_title(title: str, data: ReportData) -> str:
    """A usi-v2 analysis's title, marked as such when the report is headed by another set."""
    return title if data.definitions == "usi-v2" else f"{title} (usi-v2)"


def choose_focus(data: ReportData, requested: list[str] | None) -> list[str]:
    """The requested simulators, or the best, the median and the worst by USI."""
    if requested:
        return list(requested)
    ranked = data.ranked()
    if len(ranked) <= DEFAULT_FOCUS:
        return ranked
    picks = [ranked[0], ranked[len(ranked) // 2], ranked[-1]]
    return list(dict.fromkeys(picks))
