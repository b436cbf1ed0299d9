"""The study's analyses, figures and leaderboard as one self-contained HTML report.

``write_report(human, sims, out_dir, capability)`` is the entry point for scripts and
``usi demo``; ``usi report`` is the command line over the same function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from usi.report.build import ReportResult, build_report, write_report
    from usi.report.style import OKABE_ITO

__all__ = ["OKABE_ITO", "ReportResult", "build_report", "write_report"]


def __getattr__(name: str) -> Any:
    # Lazy: `usi --help` must not import matplotlib, scipy and scikit-learn.
    if name in ("ReportResult", "build_report", "write_report"):
        from usi.report import build

        return getattr(build, name)
    if name == "OKABE_ITO":
        from usi.report.style import OKABE_ITO

        return OKABE_ITO
    raise AttributeError(f"module 'usi.report' has no attribute {name!r}")
