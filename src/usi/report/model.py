"""What a section of the report is made of: a reading guide, figures, tables and notes.

Sections are plain data so that the same content becomes HTML, PNG/SVG and CSV/Markdown
without any section knowing about files or templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from usi.report.style import RenderedFigure


@dataclass
class Table:
    """One table: written as CSV and Markdown, shown in the HTML."""

    name: str
    title: str
    frame: pd.DataFrame
    #: Decimal places for float columns in the HTML and Markdown (CSV keeps full precision).
    digits: int = 3
    #: Long tables (one row per simulator × feature) go to CSV/Markdown only, not the HTML.
    in_html: bool = True
    #: Per-column decimal places where a column needs other than ``digits``.
    column_digits: dict[str, int] = field(default_factory=dict)

    def display_rows(self) -> list[list[str]]:
        """Cells as text, floats rounded, missing values shown as an en dash."""
        digits = [self.column_digits.get(str(c), self.digits) for c in self.frame.columns]
        rows: list[list[str]] = []
        for record in self.frame.itertuples(index=False):
            rows.append([_cell(value, d) for value, d in zip(record, digits, strict=True)])
        return rows

    def text_columns(self) -> list[bool]:
        """Per column: True for text (left-aligned in the HTML), False for numbers."""
        return [
            not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
            for dtype in self.frame.dtypes
        ]

    def markdown(self) -> str:
        """The table as GitHub-flavoured Markdown (via ``tabulate``)."""
        shown = pd.DataFrame(self.display_rows(), columns=[str(c) for c in self.frame.columns])
        return shown.to_markdown(index=False) + "\n"


def _cell(value: object, digits: int) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:.{digits}f}"
    if value is pd.NA:
        return "–"
    return str(value)


@dataclass
class Section:
    """One analysis of the report."""

    key: str
    title: str
    guide: str
    figures: list[RenderedFigure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    #: Things the reader must know: omitted parts, degraded inputs, small samples.
    notes: list[str] = field(default_factory=list)
    #: Seconds spent building this section (figures included), for the benchmark.
    seconds: float = 0.0
    #: Extra HTML the section rendered itself (a ``markupsafe.Markup``: already escaped).
    html: str = ""
