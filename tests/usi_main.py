"""Run ``usi ARGS`` in-process through its real entry point, as a user's shell would."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from usi.cli import main


def run_usi(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``usi ARGS``."""
    argv = sys.argv
    sys.argv = ["usi", *map(str, args)]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    out, err = capsys.readouterr()
    return code, out, err
