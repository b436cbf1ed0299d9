"""The ``usi`` command line: a thin shell over the capability packages.

Each command group is a module of this package with a ``register(app)`` function; this module
only wires them together and enforces the bad-input contract: a :class:`UsiInputError`
becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from usi.errors import UsiInputError
from usi.tau.env import setup_environment

app = typer.Typer(
    name="usi",
    help="How faithfully does your LLM user simulator stand in for real people? (User-Sim Index)",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_all() -> None:
    from usi.cli import audit as audit_cli
    from usi.cli import data as data_cli
    from usi.cli import demo as demo_cli
    from usi.cli import fingerprint as fingerprint_cli
    from usi.cli import report as report_cli
    from usi.cli import run as run_cli
    from usi.cli import score as metrics_cli
    from usi.cli import study as study_cli

    for module in (
        data_cli,
        fingerprint_cli,
        metrics_cli,
        audit_cli,
        run_cli,
        study_cli,
        report_cli,
        demo_cli,
    ):
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry point: the process set-up τ² and litellm need, then the command."""
    setup_environment()
    try:
        app()
    except UsiInputError as exc:
        print(f"usi: error: {exc.one_line()}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("usi: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
