"""Fixtures of the run tests: a fresh offline server per test, shaped as the test needs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from usi.llm.offline.server import OfflineConfig, OfflineServer, set_default_server


@pytest.fixture(autouse=True)
def _quiet_tau2() -> None:
    from loguru import logger

    logger.remove()


@pytest.fixture
def offline_server() -> Iterator[Callable[..., OfflineServer]]:
    """Install an offline server with the given config as the process default (restored after)."""
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
