"""Fixtures of the study tests: an in-process app (TestClient) and a live server (subprocess)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from usi.core.survey import SURVEY_ITEMS
from usi.study.agent import StudyAgent
from usi.study.app import create_app
from usi.study.config import StudyConfig

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
# Small designs keep the tests fast: retail 0/1 need the oracle's tool calls, airline 0 none.
TASKS = {"retail": ["0", "1"], "airline": ["0"]}
READY_TIMEOUT_S = 90.0
AGENT_TIMEOUT_S = 60.0


def make_config(tmp_path: Path, **overrides: Any) -> StudyConfig:
    values: dict[str, Any] = {
        "db_url": f"sqlite:///{tmp_path / 'study.db'}",
        "agent_model": "offline/oracle",
        "tasks": TASKS,
        "batches": 2,
        "admin_token": ADMIN_TOKEN,
        "judge_model": "offline/oracle",
        "agent_processes": 0,
        "completion_url": "https://recruiter.example/complete?cc={code}",
    }
    values.update(overrides)
    return StudyConfig(**values)


@dataclass
class Participant:
    """A participant's browser: a cookie jar and the session's CSRF token."""

    client: TestClient
    csrf: str = ""

    def enter(self, pid: str, study: str = "study1", session: str = "sess1") -> httpx.Response:
        response = self.client.get(
            "/start", params={"PROLIFIC_PID": pid, "STUDY_ID": study, "SESSION_ID": session}
        )
        found = CSRF_RE.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def consent(self) -> httpx.Response:
        return self.client.post("/consent", data={"csrf": self.csrf, "choice": "agree"})

    def start_chat(self) -> httpx.Response:
        return self.client.post("/task", data={"csrf": self.csrf})

    def send(self, text: str, client_id: str) -> httpx.Response:
        return self.client.post(
            "/chat/message", data={"csrf": self.csrf, "text": text, "client_id": client_id}
        )

    def messages(self, after: int = 0) -> dict[str, Any]:
        return self.client.get("/chat/messages", params={"after": after}).json()

    def wait_agent(self, timeout: float = AGENT_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.messages()
            if data["agent_status"] != "pending":
                return data
            time.sleep(0.05)
        raise AssertionError("the agent did not answer in time")

    def stop(self, tag: str) -> httpx.Response:
        """One message, the agent's answer, then ``/stop`` (Stop needs a conversation)."""
        assert self.send("Hi, I need help.", f"{tag}-first-msg").json()["ok"]
        assert self.wait_agent()["agent_status"] != "pending"
        return self.send("/stop", f"{tag}-stop-msg")

    def survey(self, **extra: str) -> httpx.Response:
        answers = {item.id: item.options[-1] for item in SURVEY_ITEMS}
        answers.update(extra)
        return self.client.post("/survey", data={"csrf": self.csrf, **answers})

    def to_chat(self, pid: str) -> None:
        self.enter(pid)
        assert self.consent().url.path == "/task"
        assert self.start_chat().url.path == "/chat"


@contextmanager
def app_builder(tmp_path: Path, **base: Any) -> Iterator[Callable[..., TestClient]]:
    """Build apps (closed on exit); each call gets a fresh TestClient on the same DB."""
    clients: list[TestClient] = []

    def build(agent: StudyAgent | None = None, **overrides: Any) -> TestClient:
        client = TestClient(create_app(make_config(tmp_path, **{**base, **overrides}), agent))
        client.__enter__()
        clients.append(client)
        return client

    try:
        yield build
    finally:
        for client in reversed(clients):
            client.__exit__(None, None, None)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    with app_builder(tmp_path) as build:
        yield build


@pytest.fixture
def app_client(make_app: Callable[..., TestClient]) -> TestClient:
    return make_app()


def participant_of(client: TestClient) -> Participant:
    """A second browser on the same app (own cookie jar)."""
    other = TestClient(client.app)
    return Participant(other)


# --- live server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    db_url: str
    process: subprocess.Popen[bytes]
    args: list[str]
    env: dict[str, str]

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.process = _spawn(self.args, self.env)
        wait_ready(self)


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "usi", "study", "serve", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited with {server.process.returncode}")
        try:
            if httpx.get(server.url + "/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop(kill=True)
    raise AssertionError("the study server did not start in time")


def start_live(tmp_path: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'live.db'}"
    tasks = tmp_path / "tasks.json"
    tasks.write_text('{"retail": ["0", "1", "2"]}', encoding="utf-8")
    args = [
        "--db",
        db_url,
        "--agent-model",
        "offline/oracle",
        "--port",
        str(port),
        "--starts-per-address",
        "0",
        "--tasks-file",
        str(tasks),
        "--batches",
        "2",
        "--domains",
        "retail",
        "--judge-model",
        "offline/oracle",
        "--completion-url",
        "https://recruiter.example/complete?cc={code}",
    ]
    env = dict(
        os.environ,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        HF_HUB_OFFLINE="1",
        USI_STUDY_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    env.update(extra_env or {})
    server = LiveServer(f"http://127.0.0.1:{port}", db_url, _spawn(args, env), args, env)
    wait_ready(server)
    return server


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live(tmp_path)
    yield server
    server.stop()
