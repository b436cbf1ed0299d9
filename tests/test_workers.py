"""One rule sizes every pool: hand-worked cases, and the pools that use it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from usi import workers
from usi.inputs import shards
from usi.report import workers as report_workers

Cores = Callable[[int], None]


@pytest.fixture
def cores(monkeypatch: pytest.MonkeyPatch) -> Cores:
    """Pretend this process may run on ``n`` cores."""

    def set_cores(n: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)))

    return set_cores


@pytest.mark.parametrize(
    ("n_cores", "jobs", "pays_from", "cap", "expected"),
    [
        (8, 1, 2, None, 1),  # one job: nothing to share
        (8, 3, 4, None, 1),  # below the threshold: this process
        (8, 4, 4, None, 4),  # never more processes than jobs
        (2, 40, 4, None, 2),  # never more than the cores
        (8, 40, 2, 3, 3),  # never more than the cap
        (1, 40, 2, None, 1),
    ],
)
def test_default_workers(
    cores: Cores, n_cores: int, jobs: int, pays_from: int, cap: int | None, expected: int
) -> None:
    cores(n_cores)
    assert workers.default_workers(jobs, pays_from=pays_from, cap=cap) == expected


def test_usable_cores_is_the_affinity_not_the_machine(cores: Cores) -> None:
    cores(3)
    assert workers.usable_cores() == 3


def test_the_report_starts_a_pool_from_four_simulators(cores: Cores) -> None:
    cores(8)
    assert [report_workers.default_workers(n) for n in (1, 3, 4, 6, 30)] == [1, 1, 4, 6, 8]


def test_a_file_is_read_in_parallel_from_16_mib(cores: Cores, tmp_path: Path) -> None:
    cores(8)
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_bytes(b"x" * (shards.PARALLEL_MIN_BYTES - 1))
    large.write_bytes(b"x" * shards.PARALLEL_MIN_BYTES)
    assert (shards.default_workers(small), shards.default_workers(large)) == (1, shards.MAX_WORKERS)
