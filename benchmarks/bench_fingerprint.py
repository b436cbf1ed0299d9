"""Fingerprint throughput: usi vs ppol's BehavioralFingerprintExtractor, same episodes, same run.

    .venv/bin/python benchmarks/bench_fingerprint.py [--episodes 20000] [--ppol-episodes N]

Both extractors get the same synthetic episodes (``_corpus.write_corpus``), already in memory:
usi gets the ``Episode`` objects (``fingerprint_frame``, which also extracts the user turns),
ppol gets each episode's messages as the ``[{"role", "content"}]`` list it expects (built
before its clock starts). The two run interleaved, one block of episodes each in turn, so that
both see the same load on a shared machine; wall-clock and CPU time are both reported.
``--ppol-episodes N`` runs ppol on the same share of every block only (the corpus is i.i.d., so
that is a same-distribution subset) and normalizes per episode.
Figures are printed, never asserted: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import write_corpus
from usi.data.readers import read_canonical
from usi.fingerprint import fingerprint_frame
from usi.fingerprint.extract import CHUNK_EPISODES


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one run of ``work``.

    CPU time is reported beside wall time because the benchmark machine is shared: other
    processes stretch wall time, much less the CPU time this process itself consumes.
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _ppol_all(extractor: Any, traces: list[list[dict[str, str]]]) -> None:
    for trace in traces:
        extractor.compute_fingerprint(trace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--ppol-episodes", type=int, default=None, help="default: all")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        start = time.perf_counter()
        write_corpus(path, args.episodes, seed=args.seed)
        written = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        episodes = list(read_canonical(path))
        read = time.perf_counter() - start

    n = len(episodes)
    n_turns = sum(len(e.user_turns()) for e in episodes)
    print(f"corpus: {n} episodes, {n_turns} user turns, {size_mb:.1f} MB canonical JSONL")
    print(
        f"  write_corpus {n / written:,.0f} episodes/s; read_canonical {n / read:,.0f} episodes/s"
    )

    from ppol.fingerprinting import BehavioralFingerprintExtractor

    extractor = BehavioralFingerprintExtractor()
    share = min(args.ppol_episodes or n, n) / n
    usi_wall = usi_cpu = ppol_wall = ppol_cpu = 0.0
    n_ppol = 0
    # Interleaved, block by block: on a shared machine the load changes by the minute, and
    # alternating the two extractors exposes both to the same load.
    for begin in range(0, n, CHUNK_EPISODES):
        block = episodes[begin : begin + CHUNK_EPISODES]
        wall, cpu = _timed(partial(fingerprint_frame, block))
        usi_wall, usi_cpu = usi_wall + wall, usi_cpu + cpu
        subset = block[: max(1, round(len(block) * share))]
        traces = [[{"role": m.role, "content": m.content} for m in e.messages] for e in subset]
        wall, cpu = _timed(partial(_ppol_all, extractor, traces))
        ppol_wall, ppol_cpu = ppol_wall + wall, ppol_cpu + cpu
        n_ppol += len(subset)

    tracemalloc.start()
    frame = fingerprint_frame(episodes)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert frame.shape == (n, 19)

    usi_rate, ppol_rate = n / usi_wall, n_ppol / ppol_wall
    print(
        f"usi  fingerprint_frame: {usi_wall:.2f} s for {n} episodes = {usi_rate:,.0f} "
        f"episodes/s ({1e6 / usi_rate:.0f} µs/episode); CPU {n / usi_cpu:,.0f} episodes/s; "
        f"peak traced memory {peak / 1e6:.1f} MB for all {n} (chunks of {CHUNK_EPISODES})"
    )
    subset_note = "" if n_ppol == n else f" (same-distribution subset, {share:.0%} of each block)"
    print(
        f"ppol BehavioralFingerprintExtractor: {ppol_wall:.2f} s for {n_ppol} episodes"
        f"{subset_note} = {ppol_rate:,.0f} episodes/s ({1e6 / ppol_rate:.0f} µs/episode); "
        f"CPU {n_ppol / ppol_cpu:,.0f} episodes/s"
    )
    print(
        f"ratio usi / ppol (episodes/s): {usi_rate / ppol_rate:.1f}x wall clock, "
        f"{(n / usi_cpu) / (n_ppol / ppol_cpu):.1f}x CPU time (target >= 10x)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS {rss:.0f} MB (includes all {n} parsed episodes held in memory)")


if __name__ == "__main__":
    main()
