"""Shared fixtures: the offline environment every test runs in, and the optional real sample."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from usi.llm.offline.server import OfflineServer
    from usi_main import Usi

# No test may reach the network: litellm must not fetch its cost map, the Hub is faked.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE = SHARED / "data" / "tau-usi-sample" / "tau_usi_sample.json"


@pytest.fixture
def tau_usi_sample() -> Path:
    """The real human-study sample in ../shared, or a skip when it is absent."""
    if not SAMPLE.exists():
        pytest.skip("../shared/data/tau-usi-sample is absent")
    return SAMPLE


@pytest.fixture
def usi(capsys: pytest.CaptureFixture[str]) -> Usi:
    """``usi(*args, env=…, stdin=…)``: :func:`usi_main.run_usi` with this test's capsys."""
    from usi_main import run_usi  # imported here: usi.cli is heavy, and not every test needs it

    return functools.partial(run_usi, capsys)


@pytest.fixture
def offline_server() -> Iterator[Callable[..., OfflineServer]]:
    """Install an offline server with the given config as the process default (restored after)."""
    from usi.llm.offline.server import OfflineConfig, OfflineServer, set_default_server

    started: list[OfflineServer] = []
    previous = set_default_server(None)

    def make(**config: object) -> OfflineServer:
        server = OfflineServer(OfflineConfig(**config))  # type: ignore[arg-type]
        set_default_server(server)
        started.append(server)
        return server

    yield make
    set_default_server(previous)
    for server in started:
        server.close()
