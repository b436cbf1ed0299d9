"""Episodes: the canonical format, the survey instrument, and readers for every source.

Names load on first use (PEP 562): ``usi data …`` checks its arguments before pydantic and
the readers are imported.
"""

from usi.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
