"""Alignment metrics and the User-Sim Index (spec §3–6, usi-v2), plus fidelity beside it.

Typical use::

    from usi.metrics import load_table, score_simulator
    table = load_table("episodes.jsonl")
    human = table[table.source == "human"]
    result = score_simulator(table[table.source == "gpt-4o"], human)
    result.model_dump()  # the JSON of `usi score --json`

The flow is one-way: table → per-side summaries (``summarize``) → components
(``component_arrays``) → USI → interval (``bootstrap_usi``, the same component functions on
resampled weights).

One call scores every simulator and the ceiling: ``usi.metrics.score.score`` (either
definition set; not re-exported here, where ``score`` is the module's name).

Names are loaded on first use (PEP 562): ``usi --help`` and the other capabilities import
this package through the CLI and should not pay for scipy and scikit-learn.
"""

from usi.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
