"""The study's analyses, figures and leaderboard as one self-contained HTML report.

``write_report(human, sims, out_dir, capability)`` is the entry point for scripts and
``usi demo``; ``usi report`` is the command line over the same function.
"""

from usi.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
