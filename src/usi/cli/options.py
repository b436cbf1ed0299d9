"""The options more than one command declares, each spelled once: flag, type and help text.

A command writes ``overwrite: Overwrite = False`` instead of its own ``typer.Option(...)``, so
``--overwrite`` means the same and reads the same in every ``--help``
(``tests/cli/test_options.py`` checks that no flag is declared twice with two texts). The
defaults stay in the signatures: they are the commands' own (or their settings models', see
:mod:`usi.run.defaults`). Imports only typer: every ``usi`` invocation loads this module.

This module also turns a settings model's ``ValidationError`` into the CLI's one line
(:func:`flag_errors`), so a model's checks reach the user under the flag they typed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from usi.errors import UsiInputError
from usi.options import DefinitionsName

if TYPE_CHECKING:
    from pydantic import ValidationError

BASE_URL_HELP = "OpenAI-compatible base URL."
HUMAN_HELP = "Episode file with the human sessions, the baseline (any format usi reads)."
JSON_HELP = "Print JSON on stdout instead of the table (its shape: see above)."
OVERWRITE_HELP = "Replace an existing output (file or folder) instead of refusing."
DB_HELP = "The study database's SQLAlchemy URL (sqlite:///… or postgresql://…)."
DEFINITIONS_HELP = (
    "tau-usi: the paper's USI, exactly (comparable with the published simulators); usi-v2: "
    "usi's small-sample variant."
)
JUDGE_MODEL_HELP = (
    "The study's quality judge, an LLM verdict (0–100) on instruction adherence per episode "
    "(any litellm model, or offline/…; default: no judge)."
)

# Files and folders.
Episodes = Annotated[
    Path,
    typer.Argument(help="Episodes: canonical JSONL, tau-usi JSON, or a `tau2 run` results JSON."),
]
Human = Annotated[Path, typer.Option("--human", help=HUMAN_HELP)]
OptionalHuman = Annotated[Path | None, typer.Option("--human", help=HUMAN_HELP)]
Out = Annotated[
    Path, typer.Option("-o", "--out", help="Where to write (the command's help says what).")
]
Output = Annotated[
    Path,
    typer.Option(
        "-o", "--output", help="Episodes file to write (canonical JSONL; data convert: see --to)."
    ),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)]
Resume = Annotated[
    bool, typer.Option("--resume", help="Continue an interrupted run: skip what OUT holds.")
]

# What is printed.
Json = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]
Definitions = Annotated[DefinitionsName, typer.Option("--definitions", help=DEFINITIONS_HELP)]

# Models and the calls to them.
AgentModel = Annotated[
    str, typer.Option("--agent-model", help="Agent model (litellm string or offline/…).")
]
JudgeModel = Annotated[str | None, typer.Option("--judge-model", help=JUDGE_MODEL_HELP)]
BaseUrl = Annotated[str | None, typer.Option("--base-url", help=BASE_URL_HELP)]
AgentBaseUrl = Annotated[str | None, typer.Option("--agent-base-url", help=BASE_URL_HELP)]
UserBaseUrl = Annotated[str | None, typer.Option("--user-base-url", help=BASE_URL_HELP)]
JudgeBaseUrl = Annotated[str | None, typer.Option("--judge-base-url", help=BASE_URL_HELP)]
Retries = Annotated[
    int, typer.Option("--retries", help="Retries (with backoff) on 429/5xx/timeouts.")
]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds per model call.")]
Concurrency = Annotated[
    int, typer.Option("--concurrency", help="How many run at once (episodes, ratings, people).")
]

# The offline models' server (tests and demos: latency and failure injection).
OfflineLatency = Annotated[
    float | None,
    typer.Option("--offline-latency-ms", help="Delay of every offline model reply (ms, >= 0)."),
]
OfflineFaults = Annotated[
    str | None,
    typer.Option(
        "--offline-faults", help="Failures the offline server injects, e.g. 429:0.1,500@3."
    ),
]

# The human study's database and quality control.
Db = Annotated[str, typer.Option("--db", help=DB_HELP)]
KeepThreshold = Annotated[
    float,
    typer.Option(
        "--keep-threshold", min=0, max=100, help="Quality score (0–100) a session needs to be kept."
    ),
]


def validation_problem(error: Mapping[str, Any]) -> str:
    """One error of a ``ValidationError`` as the CLI says it: a bound in words, else the text."""
    ctx = error.get("ctx") or {}
    for key, words in (("ge", "at least"), ("gt", "more than"), ("le", "at most")):
        if key in ctx:
            return f"must be {words} {ctx[key]:g} (got {error['input']!r})"
    return str(error["msg"])


def flag_error(exc: ValidationError, flags: Mapping[str, str]) -> UsiInputError:
    """The first error of ``exc`` as bad input at the flag of its field (dotted location)."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    return UsiInputError(validation_problem(error), where=flags.get(field, field))


@contextmanager
def flag_errors(flags: Mapping[str, str]) -> Iterator[None]:
    """Build a settings model inside: its ``ValidationError`` becomes a :class:`UsiInputError`
    naming the flag (``flags``: field location → flag), the one line and exit 2 of bad input."""
    from pydantic import ValidationError

    try:
        yield
    except ValidationError as exc:
        raise flag_error(exc, flags) from None
