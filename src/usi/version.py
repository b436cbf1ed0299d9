"""The package's version, in a module of its own so every layer can name it without importing
the public facade (:mod:`usi`) that sits above them all."""

__version__ = "0.1.0"
