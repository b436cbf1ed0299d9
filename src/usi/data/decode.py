"""Decoding input files into Python values, with errors as one clear line.

Shared by every reader (:mod:`usi.data.readers`, :mod:`usi.data.tau_usi`,
:mod:`usi.data.tau2_results`) and kept apart from the format detection so that no reader
module needs to import the module that dispatches to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from usi.errors import UsiInputError


def load_json(path: Path) -> Any:
    """Parse a whole JSON document, turning a syntax error into one clear line."""
    import json

    try:
        with path.open("r", encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise UsiInputError(f"invalid JSON: {exc.msg}", path, f"line {exc.lineno}") from None
    except UnicodeDecodeError:
        raise UsiInputError("not a text file (expected JSON)", path) from None


def describe_validation_error(exc: ValidationError) -> str:
    """The first pydantic error as ``field: message`` (one line, no URL)."""
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err.get("loc", ())) or "record"
    message = str(err.get("msg", "invalid"))
    # Errors raised by our own validators already say what is wrong.
    message = message.removeprefix("Value error, ")
    return f"{where}: {message}"
