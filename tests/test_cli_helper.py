"""One way for tests to call the command line: ``usi_main.run_usi`` (or the ``usi`` fixture).

It goes through ``usi.cli.main``, the real entry point, so a test sees what a user sees. The
helper used to be copied into six test files, and eight called typer's ``CliRunner`` on the
app, bypassing ``main()``: an input error there is an exception object with exit code 1, never
the ``usi: error:`` line and exit code 2 a user gets. This test keeps it that way: no test
file but tests/usi_main.py may import a CLI runner, import ``main`` or ``app`` from
``usi.cli``, or call ``main()``. Tests that need a real process run ``python -m usi``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from usi_main import CliResult, run_usi

TESTS = Path(__file__).resolve().parent
HELPER = TESTS / "usi_main.py"
RUNNERS = {"typer.testing", "click.testing"}
ENTRY = {"main", "app"}


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def cli_helper_violations(source: str) -> list[str]:
    """What in SOURCE (a test module) calls the CLI other than through tests/usi_main.py."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        where = f"line {getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in RUNNERS:
                    found.append(f"{where}: imports {alias.name} (a CLI runner that skips main())")
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = node.module or ""
            names = {alias.name for alias in node.names}
            if module in RUNNERS or any(f"{module}.{n}" in RUNNERS for n in names):
                found.append(f"{where}: imports from {module} (a CLI runner that skips main())")
            if module == "usi.cli" and names & ENTRY:
                found.append(f"{where}: imports {', '.join(sorted(names & ENTRY))} from usi.cli")
            if module == "usi" and "cli" in names:
                found.append(f"{where}: imports usi.cli (its main and app)")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name == "main" or (name is not None and name.endswith("cli.main")):
                found.append(f"{where}: calls {name}()")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ENTRY
            and _dotted(node.value) == "usi.cli"
        ):
            found.append(f"{where}: uses usi.cli.{node.attr}")
    return sorted(set(found), key=lambda f: (int(f.split()[1].rstrip(":")), f))


def test_every_test_calls_the_cli_through_the_one_helper() -> None:
    problems = [
        f"{path.relative_to(TESTS.parent)}: {problem}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != HELPER
        for problem in cli_helper_violations(path.read_text(encoding="utf-8"))
    ]
    assert not problems, (
        "call the CLI through tests/usi_main.py (run_usi, or the `usi` fixture), which goes "
        "through usi.cli.main as a user's shell does:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from typer.testing import CliRunner\n", "imports from typer.testing"),
        ("import typer.testing\n", "imports typer.testing"),
        ("from typer import testing\n", "imports from typer"),
        ("from click.testing import CliRunner\n", "imports from click.testing"),
        ("from usi.cli import app as cli_app\n", "imports app from usi.cli"),
        ("from usi.cli import main\n", "imports main from usi.cli"),
        ("from usi import cli\n", "imports usi.cli"),
        ("def _run():\n    from x import main\n    main()\n", "calls main()"),
        (
            "def _run():\n    try:\n        cli.main()\n    finally:\n        pass\n",
            "calls cli.main()",
        ),
        ("import usi.cli\nusi.cli.app(['score'])\n", "uses usi.cli.app"),
    ],
)
def test_the_guard_names_each_way_around_the_helper(source: str, expected: str) -> None:
    (first, *_) = cli_helper_violations(source)
    assert expected in first, cli_helper_violations(source)


def test_the_guard_lets_the_helper_and_other_cli_modules_be() -> None:
    clean = (
        "import usi.cli.fingerprint as fingerprint_cli\n"
        "from usi.cli.run import resume_command\n"
        "from usi_main import run_usi\n"
        "def test(usi):\n"
        "    code, out, err = usi('score', '--help')\n"
        "    server.main_loop()\n"
    )
    assert cli_helper_violations(clean) == []
    assert cli_helper_violations(HELPER.read_text(encoding="utf-8")) != []  # it is the exception


def test_the_helper_result_unpacks_and_joins_the_streams(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_usi(capsys, "score", "--no-such-flag")
    code, out, err = result
    assert (code, out) == (2, "") and "No such option: --no-such-flag" in err
    assert result.output == out + err
    assert CliResult(0, "a\n", "b\n").output == "a\nb\n"


def test_the_helper_sets_and_restores_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv("USI_HELPER_PROBE", "before")
    run_usi(capsys, "--help", env={"USI_HELPER_PROBE": None, "USI_HELPER_OTHER": "x"})
    assert os.environ["USI_HELPER_PROBE"] == "before" and "USI_HELPER_OTHER" not in os.environ
