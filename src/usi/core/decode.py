"""Decoding input files into Python values, with errors as one clear line.

Shared by every reader (:mod:`usi.data.readers`, :mod:`usi.data.tau_usi`,
:mod:`usi.tau.results`) and kept apart from the format detection so that no reader
module needs to import the module that dispatches to it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from usi.errors import UsiInputError


@contextlib.contextmanager
def tree_building() -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects a decoded document is made of.

    A 100 MB document is millions of containers. With the collector on, every few hundred
    new objects start a collection, and as they survive each one is rescanned in every
    generation; reading a large tau-usi file spent a third of its time there, though JSON
    trees and the episodes built from them hold no reference cycle (reference counting frees
    them). So the collector pauses while they are built, and what was built is then moved to
    the oldest generation at once (``gc.freeze`` + ``gc.unfreeze``: two list splices, no scan)
    instead of being scanned young. The collector's previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def load_json(path: Path) -> Any:
    """Parse a whole JSON document, turning a syntax error into one clear line.

    orjson decodes a 100 MB tau-usi file about four times faster than ``json`` (the largest
    single cost of reading one, after the agent markup); it rejects exactly the documents
    ``json`` rejects except a lone surrogate escape, which no UTF-8 file can hold anyway.
    """
    import orjson

    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise UsiInputError("is a directory, expected a JSON file", path) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte-order mark is not part of the document
    try:
        with tree_building():
            return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in exc.msg:
            raise UsiInputError("not a text file (expected JSON)", path) from None
        raise UsiInputError(
            f"invalid JSON: {exc.msg}", path, f"line {exc.lineno} column {exc.colno}"
        ) from None


def describe_validation_error(exc: ValidationError) -> str:
    """The first pydantic error as ``field: message`` (one line, no URL)."""
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err.get("loc", ())) or "record"
    message = str(err.get("msg", "invalid"))
    # Errors raised by our own validators already say what is wrong.
    message = message.removeprefix("Value error, ")
    return f"{where}: {message}"
