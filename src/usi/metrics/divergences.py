"""Where a simulator differs most from people, in words (the paper's Figure 3 red outlines).

A score says *how much* a simulator differs; a user fixing a simulator needs *where*. This
module turns rows — one behaviour each: a name, a phrase, the simulator's and the people's
value and a unit — into ranked sentences such as "polite in 49% of turns vs 15% for people".
It knows nothing of a definition set: usi-v2 (:mod:`usi.metrics.index`) builds its rows from
its features, outcome and survey, and another set can pass its own.

Ranking is by the *relative gap* |sim − human| / max(|sim|, |human|, floor): scale-free, so
words per turn and a share of turns rank on one list, and 1.0 when one side never shows a
behaviour the other does. The floor (per unit) keeps a rare cue from topping the list on
noise: 0.3% of turns vs 0 is a gap of 0.03 on the 10-point floor, not 1.0, and repeating
oneself in 2% of turns vs 4% (0.2) ranks below succeeding on 100% of tasks vs 63% (0.37).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from usi.metrics.models import Divergence, DivergenceUnit

UNIT_FLOOR: dict[DivergenceUnit, float] = {
    "% of turns": 0.10,
    "% of tasks": 0.10,
    "% of words": 0.10,
    "% of conversations": 0.10,
    "score": 0.1,
    "number": 0.0,
}
"""The smallest denominator of the relative gap per unit: 10 percentage points for shares,
0.1 for a 0–1 survey score, none for a plain number (words per turn, a ratio)."""


class DivergenceRow(NamedTuple):
    """One behaviour both sides have a value for; ``phrase`` completes the sentence."""

    name: str
    phrase: str
    simulator: float
    human: float
    unit: DivergenceUnit
    kind: str = "behaviour"


def _number(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def sentence(row: DivergenceRow) -> str:
    """The row in words, both values in the unit people read."""
    s, h = row.simulator, row.human
    if row.unit == "% of turns":
        return f"{row.phrase} in {s:.0%} of turns vs {h:.0%} for people"
    if row.unit == "% of tasks":
        return f"{row.phrase} on {s:.0%} of tasks vs {h:.0%} for people"
    if row.unit == "% of conversations":
        return f"{row.phrase} in {s:.0%} of conversations vs {h:.0%} for people"
    if row.unit == "% of words":
        return f"{row.phrase} {s:.0%} of its words vs {h:.0%} for people"
    if row.unit == "score":
        return f"{row.phrase} {s:.2f} vs {h:.2f} for people"
    return f"{row.phrase} {_number(s)} vs {_number(h)} for people"


def relative_gap(simulator: float, human: float, unit: DivergenceUnit) -> float:
    """|sim − human| / max(|sim|, |human|, the unit's floor); 0 when both are 0."""
    scale = max(abs(simulator), abs(human), UNIT_FLOOR[unit])
    return abs(simulator - human) / scale if scale > 0 else 0.0


def build_divergences(rows: Iterable[DivergenceRow]) -> list[Divergence]:
    """Every row as a :class:`Divergence`, largest relative gap first (ties: by name).

    Rows that do not differ (gap 0) are left out: they are not a divergence.
    """
    out = [
        Divergence(
            behaviour=row.name,
            kind=row.kind,
            simulator=row.simulator,
            human=row.human,
            unit=row.unit,
            text=sentence(row),
            gap=relative_gap(row.simulator, row.human, row.unit),
        )
        for row in rows
    ]
    return sorted((d for d in out if d.gap > 0), key=lambda d: (-d.gap, d.behaviour))
