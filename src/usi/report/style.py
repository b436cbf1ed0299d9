"""How every figure of the report looks, decided once.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas (no
``pyplot``, so no global figure registry and no GUI backend), and every colour comes from
the Okabe–Ito palette, which stays distinguishable under the common colour-vision
deficiencies. Each figure is kept both as PNG (embedded in the HTML) and SVG (for papers).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

from matplotlib.figure import Figure

#: Okabe & Ito (2008), "Color Universal Design": eight colours safe for colour-blind readers.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: People are always drawn in black so the reference stands out from every simulator.
HUMAN_COLOUR = OKABE_ITO["black"]
#: Colours for simulators / families, in order (yellow last: weakest on white).
SERIES_COLOURS: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["yellow"],
)
#: Markers cycle with colours so series stay distinguishable in greyscale prints too.
SERIES_MARKERS: tuple[str, ...] = ("o", "s", "D", "^", "v", "P", "X")
#: Diverging colour map for signed gaps (blue = under, vermillion = over); colour-blind safe.
DIVERGING_CMAP = "PuOr_r"

#: Width of a full-width figure in inches; at FIGURE_DPI it matches the report's column.
FIGURE_WIDTH = 10.0
FIGURE_DPI = 110

_RC: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.fonttype": "path",  # glyphs as paths: the SVG looks the same in every viewer
    "svg.hashsalt": "usi-report",
    "path.simplify": True,
}


def series_colour(index: int) -> str:
    """The colour of the ``index``-th series (cycles past the palette)."""
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def series_marker(index: int) -> str:
    """The marker of the ``index``-th series; with the colour it identifies the series."""
    return SERIES_MARKERS[index % len(SERIES_MARKERS)]


@contextmanager
def report_style() -> Iterator[None]:
    """Apply the report's rc settings to the figures drawn (and saved) inside the block."""
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        yield


def new_figure(height: float, width: float = FIGURE_WIDTH) -> Figure:
    """A fresh figure sized for the report column, with a constrained layout."""
    return Figure(figsize=(width, height), dpi=FIGURE_DPI, layout="constrained")


@dataclass(frozen=True)
class RenderedFigure:
    """One figure of a section, rendered once in both formats."""

    name: str
    title: str
    caption: str
    png: bytes
    svg: str
    #: Display size in CSS pixels (the PNG has 1.5× as many, for sharp text on any screen).
    width_px: int
    height_px: int

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI, so the HTML needs no files beside it."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def render(fig: Figure, name: str, title: str, caption: str) -> RenderedFigure:
    """Save ``fig`` as PNG and SVG in memory and release it."""
    with report_style():
        png_buffer = io.BytesIO()
        fig.savefig(png_buffer, format="png", dpi=FIGURE_DPI * 1.5)
        # The layout is solved; keep it for the SVG instead of solving it again.
        fig.set_layout_engine("none")
        svg_buffer = io.StringIO()
        fig.savefig(svg_buffer, format="svg")
    width, height = fig.get_size_inches()
    scale = FIGURE_DPI
    return RenderedFigure(
        name=name,
        title=title,
        caption=caption,
        png=png_buffer.getvalue(),
        svg=svg_buffer.getvalue(),
        width_px=round(width * scale),
        height_px=round(height * scale),
    )


def short_labels(names: Sequence[str], limit: int = 22) -> list[str]:
    """Names cut to ``limit`` characters with an ellipsis, for crowded axes."""
    return [n if len(n) <= limit else n[: limit - 1] + "…" for n in names]
