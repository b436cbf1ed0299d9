"""Fixtures of the run tests: τ²'s loguru output off (``offline_server``: tests/conftest.py)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _quiet_tau2() -> None:
    from loguru import logger

    logger.remove()
