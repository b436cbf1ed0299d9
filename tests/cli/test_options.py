"""One CLI vocabulary: a flag reads the same in every command, run/judge defaults are their
settings models', a bad setting is one line at its flag, and every error location a user
sees is the flag they typed (or a place in a file, or a variable)."""

from __future__ import annotations

import ast
import dataclasses
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from usi.cli.options import OVERWRITE_HELP
from usi.cli.run import JUDGE_FLAGS, RUN_FLAGS
from usi_main import run_usi, usi_command

SRC = Path(__file__).resolve().parents[2] / "src" / "usi"

#: Flags two commands declare with two meanings, so two texts: --seed seeds the bootstrap of
#: `usi score` but the trials of `usi run`; --workers sizes score's readers, run's backend.
SAME_FLAG_OTHER_MEANING = {"--seed", "--workers"}


def commands() -> dict[str, Any]:
    """Every leaf command by its full name (``run``, ``study serve``, …)."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found[" ".join(path)] = command

    walk(usi_command(), ())
    return found


def option_helps() -> dict[str, dict[str, str | None]]:
    """flag → {command: its help text}."""
    helps: dict[str, dict[str, str | None]] = defaultdict(dict)
    for name, command in commands().items():
        for param in command.params:
            if param.param_type_name == "option":
                for flag in (*param.opts, *param.secondary_opts):
                    if flag.startswith("--"):  # -o is --out here and --output there
                        helps[flag][name] = param.help
    return helps


def declared_flags() -> set[str]:
    return {
        flag
        for command in commands().values()
        for param in command.params
        if param.param_type_name == "option"
        for flag in (*param.opts, *param.secondary_opts)
    }


def test_a_flag_two_commands_declare_has_one_help_text() -> None:
    shared = {flag: by for flag, by in option_helps().items() if len(by) > 1}
    assert sorted(shared) == [
        "--agent-base-url",
        "--agent-model",
        "--concurrency",
        "--db",
        "--definitions",
        "--human",
        "--json",
        "--judge-base-url",
        "--judge-model",
        "--keep-threshold",
        "--offline-faults",
        "--offline-latency-ms",
        "--out",
        "--output",
        "--overwrite",
        "--quiet",
        "--resume",
        "--retries",
        "--seed",
        "--timeout",
        "--workers",
    ]
    for flag, by in shared.items():
        texts = set(by.values())
        if flag in SAME_FLAG_OTHER_MEANING:
            assert len(texts) == len(by), flag
        else:
            assert len(texts) == 1 and None not in texts, (flag, by)
    assert sorted(shared["--overwrite"]) == [
        "data convert",
        "data fetch",
        "demo",
        "judge",
        "report",
        "run",
        "study export",
    ]


def help_text(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    code, out, _ = run_usi(capsys, *command, "--help")
    assert code == 0
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", out).split())


@pytest.mark.parametrize(
    ("flag", "command_a", "command_b"),
    [
        ("--overwrite", ("run",), ("data", "convert")),
        ("--human", ("score",), ("audit",)),
        ("--json", ("fingerprint",), ("score",)),
        ("--judge-model", ("audit",), ("study", "serve")),
        ("--quiet", ("run",), ("judge",)),
        ("--resume", ("run",), ("judge",)),
        ("--definitions", ("report",), ("demo",)),
    ],
)
def test_help_shows_a_shared_option_with_the_same_text_in_every_command(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    command_a: tuple[str, ...],
    command_b: tuple[str, ...],
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: the text is not wrapped
    text = option_helps()[flag][" ".join(command_a)]
    assert text is not None
    assert text == option_helps()[flag][" ".join(command_b)]
    words = " ".join(text.split())
    assert words in help_text(capsys, *command_a)
    assert words in help_text(capsys, *command_b)


def test_the_overwrite_help_is_the_shared_text() -> None:
    assert {option_helps()["--overwrite"]["run"]} == {OVERWRITE_HELP}


def defaults_of(command: str) -> dict[str, object]:
    return {p.name: p.default for p in commands()[command].params if p.name is not None}


def test_run_and_judge_defaults_are_their_settings_models() -> None:
    from usi.run.episode import RunSettings
    from usi.run.judge import JudgeSettings
    from usi.tau.simulators import SimulatorSpec

    model = {f.name: f.default for f in dataclasses.fields(RunSettings)}
    run = defaults_of("run")
    assert {
        "seed": run["seed"],
        "max_steps": run["max_steps"],
        "max_errors": run["max_errors"],
        "num_retries": run["retries"],
        "timeout_s": run["timeout"],
        "survey": run["survey"],
        "protocol": run["protocol"],
    } == {
        key: model[key]
        for key in (
            "seed",
            "max_steps",
            "max_errors",
            "num_retries",
            "timeout_s",
            "survey",
            "protocol",
        )
    }
    assert (run["seed"], run["max_steps"], run["max_errors"]) == (300, 100, 10)
    assert (run["retries"], run["timeout"], run["survey"], run["protocol"]) == (
        5,
        120.0,
        True,
        "tau2",
    )
    assert run["user_kind"] == SimulatorSpec().kind == "prompt"
    judge_model = {f.name: f.default for f in dataclasses.fields(JudgeSettings)}
    judge = defaults_of("judge")
    assert (judge["retries"], judge["timeout"]) == (
        judge_model["num_retries"],
        judge_model["timeout_s"],
    )
    assert (judge["temperature"], judge["max_tokens"]) == (
        judge_model["temperature"],
        judge_model["max_tokens"],
    )


def test_every_settings_field_has_the_flag_that_sets_it() -> None:
    from usi.run.episode import RoleSettings, RunSettings
    from usi.run.judge import JudgeSettings
    from usi.tau.simulators import SimulatorSpec

    nested = {"agent": RoleSettings, "user": RoleSettings, "simulator": SimulatorSpec}
    fields = set()
    for item in dataclasses.fields(RunSettings):
        if item.name in nested:
            fields |= {f"{item.name}.{f.name}" for f in dataclasses.fields(nested[item.name])}
        else:
            fields.add(item.name)
    assert fields - set(RUN_FLAGS) == {"survey_retries"}  # not a flag: usi's own constant
    assert set(RUN_FLAGS) <= fields
    run_flags = {flag for p in commands()["run"].params for flag in p.opts}
    assert set(RUN_FLAGS.values()) <= run_flags
    judge_fields = {f.name for f in dataclasses.fields(JudgeSettings)}
    assert judge_fields - set(JUDGE_FLAGS) == {"survey_retries"}
    judge_flags = {flag for p in commands()["judge"].params for flag in p.opts}
    assert set(JUDGE_FLAGS.values()) <= judge_flags


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (("--max-steps", "0"), "--max-steps: must be at least 1 (got 0)"),
        (("--max-errors", "-1"), "--max-errors: must be at least 0 (got -1)"),
        (("--retries", "-2"), "--retries: must be at least 0 (got -2)"),
        (("--timeout", "0"), "--timeout: must be more than 0 (got 0.0)"),
        (("--agent-temperature", "-0.5"), "--agent-temperature: must be at least 0 (got -0.5)"),
        (("--user-max-tokens", "0"), "--user-max-tokens: must be at least 1 (got 0)"),
        (
            ("--user-kind", "robot"),
            "--user-kind: unknown simulator kind 'robot' (known: prompt, roleflip, plugin)",
        ),
        (("--user-kind", "plugin"), "--user-plugin: --user-kind plugin needs --user-plugin"),
        (("--protocol", "tau3"), "--protocol: unknown protocol 'tau3' (known: tau2, tau-usi)"),
        (("--tasks", ","), "--tasks: is empty (give τ² task ids such as 0,1,2)"),
        (("--tasks", "999"), "--tasks: unknown retail task id(s) 999 (τ² ids: 0…113)"),
        (("--offline-latency-ms", "-1"), "--offline-latency-ms: must be >= 0"),
        (
            ("--offline-faults", "teapot:1"),
            "--offline-faults: bad fault 'teapot:1' (kind:rate, kinds: "
            "('429', '500', '401', 'timeout', 'garbage'))",
        ),
    ],
)
def test_a_bad_run_setting_is_one_line_at_its_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: tuple[str, ...], line: str
) -> None:
    out = tmp_path / "out.jsonl"
    args = ["run", "--domain", "retail", "--quiet", "-o", str(out), *extra]
    if "--tasks" not in extra:
        args += ["--tasks", "1"]
    code, stdout, err = run_usi(capsys, *args)
    assert (code, stdout, err) == (2, "", f"usi: error: {line}\n")
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (("--timeout", "-1"), "--timeout: must be more than 0 (got -1.0)"),
        (("--temperature", "-1"), "--temperature: must be at least 0 (got -1.0)"),
        (("--max-tokens", "0"), "--max-tokens: must be at least 1 (got 0)"),
        (
            ("--model", "offline/nobody"),
            "--model: unknown offline model 'offline/nobody' (known: offline/oracle, "
            "offline/cooperative, offline/terse, offline/flaky)",
        ),
    ],
)
def test_a_bad_judge_setting_is_one_line_at_its_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: tuple[str, ...], line: str
) -> None:
    episodes = tmp_path / "episodes.jsonl"
    episodes.write_text("")
    out = tmp_path / "ratings.jsonl"
    args = ["judge", str(episodes), "-o", str(out), "--quiet"]
    if "--model" not in extra:
        args += ["--model", "offline/terse"]
    code, stdout, err = run_usi(capsys, *args, *extra)
    assert (code, stdout, err) == (2, "", f"usi: error: {line}\n")
    assert not out.exists()


# --- where= names the flag ------------------------------------------------------------------

#: Where a problem is, when it is not a flag: a variable usi reads, or a place in a file.
ENV_VAR = re.compile(r"USI_[A-Z0-9_]+")
FILE_PLACES = ("line ", "session ", "simulation ", "results[")


def error_locations() -> list[tuple[str, int, ast.expr]]:
    """(file, line, expression) of every location given to a bad-input error in src: the
    ``where=``/``option=`` keyword of any call, the third argument of ``UsiInputError``."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            values = [kw.value for kw in node.keywords if kw.arg in ("where", "option")]
            if isinstance(node.func, ast.Name) and node.func.id == "UsiInputError":
                values += node.args[2:3]
            found += [(str(path.relative_to(SRC)), node.lineno, value) for value in values]
    return found


def location_problem(value: ast.expr, flags: set[str]) -> str | None:
    """Why a literal location breaks the rule, or None. The rule: a string that starts with
    ``-`` is a flag some command declares; any other string is a variable ``USI_…`` or a
    place in a file (``line N``, ``session S``, ``simulation S``, ``results[N]``, or an id
    from the file: an f-string that starts with it). A bare name (``model``, ``tasks``) is
    neither: the user typed ``--model``. Names (variables) are the caller's literals."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        text = value.value
        if text.startswith("-"):
            return None if text in flags else f"{text!r} is no command's flag"
        if ENV_VAR.fullmatch(text) or text.startswith(FILE_PLACES):
            return None
        return f"{text!r} is neither a flag, a USI_ variable nor a place in a file"
    if isinstance(value, ast.JoinedStr):
        first = value.values[0]
        if isinstance(first, ast.FormattedValue):
            return None  # an id from the file, then where in it
        if isinstance(first, ast.Constant) and str(first.value).startswith(FILE_PLACES):
            return None
        return f"f-string {ast.unparse(value)} is not a place in a file"
    return None


def test_every_error_location_is_a_flag_a_variable_or_a_place_in_a_file() -> None:
    flags = declared_flags()
    problems = [
        f"{path}:{line}: {problem}"
        for path, line, value in error_locations()
        if (problem := location_problem(value, flags)) is not None
    ]
    assert problems == []


def test_the_location_rule_catches_a_bare_name() -> None:
    flags = declared_flags()
    bare = ast.parse('f(where="max_steps")').body[0].value.keywords[0].value  # type: ignore[attr-defined]
    assert location_problem(bare, flags) == (
        "'max_steps' is neither a flag, a USI_ variable nor a place in a file"
    )
    typo = ast.Constant("--max-step")
    assert location_problem(typo, flags) == "'--max-step' is no command's flag"
    assert location_problem(ast.Constant("--max-steps"), flags) is None
    assert location_problem(ast.Constant("USI_OFFLINE_FAULTS"), flags) is None
    assert len(error_locations()) > 100
