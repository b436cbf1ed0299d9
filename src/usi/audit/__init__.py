"""The simulator's own mistakes, and the agent failures they cause (``usi audit``).

Rule-based checks per episode (one module per kind in :mod:`usi.audit.rules`), a result
model (:mod:`usi.audit.models`), per-source summaries and the comparison with people that
``usi score`` and ``usi report`` show beside USI (:mod:`usi.audit.summary`).
"""

from usi.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
