"""usi — how faithfully does an LLM user simulator stand in for real people?

The public API: read episodes in any supported format, fingerprint them, and score a
simulator against people with the User-Sim Index of Zhou et al. (arXiv 2603.11245).

The names load on first use (PEP 562), so ``import usi.cli`` does not pay for pydantic,
numpy and pandas before it has even parsed the arguments: a mistyped flag answers at once.
"""

from usi.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
