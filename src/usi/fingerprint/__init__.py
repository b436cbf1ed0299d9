"""The behavioral fingerprint: 19 features in 4 dimensions, per episode, over user turns.

The feature names load at once (plain tuples); the extractor, which needs numpy and pandas,
loads on first use (PEP 562) so the CLI answers a mistyped argument without them.
"""

from usi.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
