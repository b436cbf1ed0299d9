"""Load test of ``usi study serve`` with the offline agent: ≥ 200 scripted participants.

Starts a live server (SQLite WAL, ``offline/oracle`` agent, no network) in a subprocess,
drives N participants through the whole flow over HTTP with bounded concurrency, and
prints p50/p95/max latency of the non-LLM requests, errors, completed sessions and lost
messages, and the p95 of every page on its own (``GET /task``, ``POST /task``, …: one slow
page hides in a pooled p95). The peer, measured in the same run by a prober hitting the
static home page (no database), shows how much of the latency is the machine rather than
the study's own work. Target: every page's p95 < 100 ms at 100 participants, zero
errors, zero lost messages.

The server is started with ``--starts-per-address 0 --starts-per-minute 0`` and
``--connections-per-address 0``: every scripted participant comes from 127.0.0.1, which
the per-address throttles of a real study would (rightly) refuse.

    .venv/bin/python benchmarks/bench_study_loadtest.py [--participants 100] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from usi.study.loadtest import percentile, run_loadtest, summary_rows

READY_TIMEOUT_S = 120.0
PROBE_INTERVAL_S = 0.1
TARGET_P95_MS = 100.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url + "/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not start")


async def measure(url: str, participants: int, concurrency: int) -> tuple[object, list[float]]:
    probe: list[float] = []
    stop = asyncio.Event()

    async def prober() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            while not stop.is_set():
                start = time.perf_counter()
                await client.get("/")
                probe.append(time.perf_counter() - start)
                await asyncio.sleep(PROBE_INTERVAL_S)

    task = asyncio.create_task(prober())
    result = await run_loadtest(url, participants, concurrency)
    stop.set()
    await task
    return result, probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--agent-processes", type=int, default=1)
    args = parser.parse_args()
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'study.db'}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "usi",
                "study",
                "serve",
                "--db",
                db,
                "--agent-model",
                "offline/oracle",
                "--port",
                str(port),
                "--agent-processes",
                str(args.agent_processes),
                "--starts-per-address",
                "0",
                "--starts-per-minute",
                "0",
                "--connections-per-address",
                "0",
            ],
            env={**env, "USI_STUDY_ADMIN_TOKEN": "bench-admin-token-" + os.urandom(16).hex()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url, server)
            result, probe = asyncio.run(measure(url, args.participants, args.concurrency))
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    print(
        f"usi study loadtest: {args.participants} participants, concurrency {args.concurrency}, "
        f"offline/oracle agent, SQLite WAL"
    )
    for label, value in summary_rows(result):  # type: ignore[arg-type]
        print(f"  {label:<36} {value}")
    every = result.all_latencies()  # type: ignore[attr-defined]
    p95 = percentile(every, 95) * 1000
    peer = percentile(probe, 95) * 1000
    print(f"  {'peer: static page p95 (ms)':<36} {peer:.1f}  (n={len(probe)})")
    print(f"  {'ratio flow p95 / static p95':<36} {p95 / peer:.2f}")
    print(f"  {'ratio flow p95 / 100 ms target':<36} {p95 / TARGET_P95_MS:.2f}")
    pages = result.latencies  # type: ignore[attr-defined]
    later = result.after_first_wave  # type: ignore[attr-defined]
    print(
        "  every page's p95 against the target (all participants | after the first wave of "
        f"{args.concurrency}, who all arrived in the same instant):"
    )
    for page in sorted(pages):
        page_p95 = percentile(pages[page], 95) * 1000
        verdict = "ok" if page_p95 < TARGET_P95_MS else "OVER"
        if later.get(page):
            later_p95 = percentile(later[page], 95) * 1000
            steady = f"{later_p95:7.1f} ms {'ok' if later_p95 < TARGET_P95_MS else 'OVER'}"
        else:  # every participant was in the first wave
            steady = "    n/a"
        print(
            f"    {page:<20} p95 {page_p95:7.1f} ms {verdict:<4} (n={len(pages[page]):>5}, "
            f"{page_p95 / peer:5.2f}x static) | {steady}"
        )
    worst = max(pages, key=lambda page: percentile(pages[page], 95))
    print(f"  {'slowest page':<36} {worst} ({percentile(pages[worst], 95) * 1000:.1f} ms)")
    for error in result.errors[:10]:  # type: ignore[attr-defined]
        print(f"  error: {error}")


if __name__ == "__main__":
    main()
