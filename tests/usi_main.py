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
import typer.core
import typer.main

from usi.cli import app, main


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


class _Captured:
    """Standard output and error of one call, for callers without capsys (module fixtures)."""

    def __init__(self) -> None:
        self.bytes = io.BytesIO(), io.BytesIO()
        # Text streams with a ``buffer``, like the ones they stand in for.
        self.streams = tuple(
            io.TextIOWrapper(b, encoding="utf-8", newline="", write_through=True)
            for b in self.bytes
        )

    def readouterr(self) -> tuple[str, str]:
        for stream in self.streams:
            stream.flush()
        return self.bytes[0].getvalue().decode(), self.bytes[1].getvalue().decode()


def run_usi(
    capsys: pytest.CaptureFixture[str] | None,
    *args: str | Path,
    env: Mapping[str, str | None] | None = None,
    stdin: str | None = None,
) -> CliResult:
    """(exit code, stdout, stderr) of ``usi ARGS``, with ENV set and STDIN as standard input.

    Output is read from CAPSYS; output printed before the call is discarded, so the result is
    this command's alone. Without CAPSYS (a module-scoped fixture cannot have one) the call's
    standard output and error are captured here. Exceptions other than those ``main()`` turns
    into an exit code propagate: a crash fails the test with its traceback.
    """
    saved = sys.argv, sys.stdin, sys.stdout, sys.stderr
    capture: pytest.CaptureFixture[str] | _Captured
    if capsys is None:
        capture = _Captured()
        sys.stdout, sys.stderr = capture.streams
    else:
        capture = capsys
        capsys.readouterr()
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
        out, err = capture.readouterr()
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
    return CliResult(code, out, err)


def usi_command() -> typer.core.TyperGroup:
    """The command tree of ``usi`` (its groups, commands and options), to inspect, not run."""
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    return command
