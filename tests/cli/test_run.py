"""`usi run` / `usi judge` from the command line: bad input is one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS
from usi.data.readers import read_episodes
from usi_main import Usi

BASE = ("run", "--domain", "retail", "--tasks", "1", "--quiet")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--domain", "telecom"), "unknown domain 'telecom'"),
        (("--tasks", "1,999"), "unknown retail task id(s) 999"),
        (("--user-model", "nosuch/model"), "unknown model prefix 'nosuch'"),
        (("--agent-model", "offline/wizard"), "unknown offline model"),
        (
            ("--user-model", "openai/m", "--user-base-url", "http://127.0.0.1:9/v1"),
            "unreachable base URL",
        ),
        (("--persona", "/nonexistent/persona.md"), "no such persona file"),
        (("--user-kind", "plugin", "--user-plugin", "no_such_module:User"), "cannot import plugin"),
        (("--offline-faults", "teapot:1"), "bad fault"),
        (("--backend", "process", "--workers", "0"), "--workers must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    usi: Usi, tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "out.jsonl"
    code, _, err = usi(*BASE, "-o", out, *extra)
    err = err.strip()
    assert code == 2
    assert err.startswith("usi: error: ") and "\n" not in err and message in err
    assert not out.exists()


def test_bad_prompt_files(usi: Usi, tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    binary = tmp_path / "bin.md"
    binary.write_bytes(b"\xff\xfe\x00bad")
    braces = tmp_path / "braces.md"
    braces.write_text("You are {name}. {instructions}")
    for flag, path, message in (
        ("--persona", empty, "persona file is empty"),
        ("--persona", binary, "not UTF-8"),
        ("--user-prompt", braces, "bad placeholder"),
    ):
        code, _, err = usi(*BASE, "-o", tmp_path / "o.jsonl", flag, path)
        assert code == 2
        assert message in err


def test_existing_output_needs_resume_or_overwrite(
    usi: Usi, tmp_path: Path, offline_server
) -> None:
    offline_server()
    out = tmp_path / "out.jsonl"
    code, _, err = usi(*BASE, "-o", out)
    assert code == 0
    assert "1 episode(s) run" in err
    code, _, err = usi(*BASE, "-o", out)
    assert code == 2
    assert "use --resume" in err
    code, _, err = usi(*BASE, "-o", out, "--resume")
    assert code == 0
    assert "0 episode(s) run, 1 already done" in err


def test_prompt_and_persona_files_reach_the_simulator(
    monkeypatch: pytest.MonkeyPatch, usi: Usi, tmp_path: Path, offline_server
) -> None:
    server = offline_server()
    prompts: list[str] = []
    from usi.llm.offline import server as server_module

    real = server_module.complete

    def spy(body, headers):  # type: ignore[no-untyped-def]
        if headers.get("x-usi-role") == "user":
            prompts.append(body["messages"][0]["content"])
        return real(body, headers)

    monkeypatch.setattr(server_module, "complete", spy)
    prompt = tmp_path / "prompt.md"
    prompt.write_text("You are a hurried customer.\n<scenario>{instructions}</scenario>\n{persona}")
    persona = tmp_path / "persona.md"
    persona.write_text("A retired teacher who types slowly.")
    out = tmp_path / "out.jsonl"
    code = usi(*BASE, "-o", out, "--user-prompt", prompt, "--persona", persona).exit_code
    assert code == 0 and server.requests > 0
    assert prompts and prompts[0].startswith("You are a hurried customer.")
    assert "retired teacher" in prompts[0] and "Simulation Guidelines" not in prompts[0]
    (ep,) = read_episodes(out)
    assert ep.metadata["settings"]["simulator"]["persona_sha256"]


def test_judge_rates_existing_conversations(usi: Usi, tmp_path: Path, offline_server) -> None:
    offline_server()
    runs = tmp_path / "runs.jsonl"
    assert usi("run", "--domain", "retail", "--tasks", "1,2", "--quiet", "-o", runs).exit_code == 0
    judged = tmp_path / "judged.jsonl"
    args = (
        "judge",
        str(runs),
        "--model",
        "offline/terse",
        "-o",
        str(judged),
        "--quiet",
        "--concurrency",
        "2",
    )
    assert usi(*args).exit_code == 0
    originals = {e.episode_id: e for e in read_episodes(runs)}
    episodes = read_episodes(judged)
    assert {e.episode_id for e in episodes} == set(originals)
    for ep in episodes:
        assert ep.survey == originals[ep.episode_id].survey  # the original answers stay
        judge = ep.metadata["judge_survey"]
        assert set(judge) == set(SURVEY_ITEM_IDS)
        assert all(judge[k] in ITEMS_BY_ID[k].options for k in judge)
        assert judge != ep.survey  # the terse judge rates differently from the cooperative user
        assert ep.metadata["judge"]["model"] == "offline/terse"
    code, _, err = usi(*args, "--resume")
    assert code == 0
    assert "0 episode(s) judged by offline/terse, 2 already done" in err
    assert len(read_episodes(judged)) == 2
