"""Run ``usi ARGS`` in-process through its real entry point, as a user's shell would.

This is the one way tests call the command line (tests/test_cli_helper.py enforces it): through
``usi.cli.main``, so a test sees what a user sees — a :class:`~usi.errors.UsiInputError` as one
``usi: error: …`` line and exit code 2, Ctrl-C as exit code 130, the environment set up by the
entry point — and not what typer's ``CliRunner`` makes of an exception (exit code 1 and an
exception object no user ever sees). Tests that need a real process (signals, worker
processes) run ``python -m usi`` as a subprocess instead.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, Protocol

import pytest

from usi.cli import main


class CliResult(NamedTuple):
    """What ``usi ARGS`` did: unpacks as ``code, out, err``."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything printed, stdout then stderr (the order within each stream is kept)."""
        return self.stdout + self.stderr


class Usi(Protocol):
    """The ``usi`` fixture (tests/conftest.py): :func:`run_usi` with the test's capsys."""

    def __call__(
        self,
        *args: str | Path,
        env: Mapping[str, str | None] | None = None,
        stdin: str | None = None,
    ) -> CliResult: ...


@contextmanager
def _environment(env: Mapping[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ENV applied (``None`` unsets a variable), restored afterwards."""
    saved = {name: os.environ.get(name) for name in env}
    try:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_usi(
    capsys: pytest.CaptureFixture[str],
    *args: str | Path,
    env: Mapping[str, str | None] | None = None,
    stdin: str | None = None,
) -> CliResult:
    """(exit code, stdout, stderr) of ``usi ARGS``, with ENV set and STDIN as standard input.

    Output printed before the call is discarded, so the result is this command's alone.
    Exceptions other than those ``main()`` turns into an exit code propagate: a crash fails
    the test with its traceback.
    """
    capsys.readouterr()
    argv, saved_stdin = sys.argv, sys.stdin
    sys.argv = ["usi", *map(str, args)]
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    code = 0
    try:
        with _environment(env or {}):
            main()
    except SystemExit as exc:
        if isinstance(exc.code, str):  # sys.exit("message"): the interpreter prints it
            print(exc.code, file=sys.stderr)
            code = 1
        else:
            code = int(exc.code or 0)
    finally:
        sys.argv, sys.stdin = argv, saved_stdin
    out, err = capsys.readouterr()
    return CliResult(code, out, err)
