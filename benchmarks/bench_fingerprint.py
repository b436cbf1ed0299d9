"""Fingerprint throughput: usi vs ppol's BehavioralFingerprintExtractor, same episodes, same run.

    .venv/bin/python benchmarks/bench_fingerprint.py [--episodes 20000] [--ppol-episodes N]

Both extractors get the same synthetic episodes (``_corpus.write_corpus``), already in memory:
usi gets the ``Episode`` objects (``fingerprint_frame``, which also extracts the user turns),
ppol gets each episode's messages as the ``[{"role", "content"}]`` list it expects (built
before the clock starts). ``--ppol-episodes`` runs ppol on the first N episodes only (the
corpus is i.i.d., so that is a same-distribution subset) and normalizes per episode.
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
from pathlib import Path

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


def _best_of(repeats: int, work: Callable[[], object]) -> tuple[float, float]:
    """Fastest of ``repeats`` runs (wall and CPU separately): the least disturbed by other load."""
    runs = [_timed(work) for _ in range(repeats)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--ppol-episodes", type=int, default=None, help="default: all")
    parser.add_argument("--repeats", type=int, default=3, help="usi timing: best of N")
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

    usi_seconds, usi_cpu = _best_of(args.repeats, lambda: fingerprint_frame(episodes))
    tracemalloc.start()
    frame = fingerprint_frame(episodes)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert frame.shape == (n, 19)
    usi_rate = n / usi_seconds
    print(
        f"usi  fingerprint_frame: {usi_seconds:.2f} s for {n} episodes = {usi_rate:,.0f} "
        f"episodes/s ({1e6 / usi_rate:.0f} µs/episode, best of {args.repeats}); "
        f"CPU {n / usi_cpu:,.0f} episodes/s; "
        f"peak traced memory {peak / 1e6:.1f} MB (chunks of {CHUNK_EPISODES} episodes)"
    )

    from ppol.fingerprinting import BehavioralFingerprintExtractor

    extractor = BehavioralFingerprintExtractor()
    n_ppol = min(args.ppol_episodes or n, n)
    traces = [
        [{"role": m.role, "content": m.content} for m in e.messages] for e in episodes[:n_ppol]
    ]

    def run_ppol() -> None:
        for trace in traces:
            extractor.compute_fingerprint(trace)

    ppol_seconds, ppol_cpu = _timed(run_ppol)
    ppol_rate = n_ppol / ppol_seconds
    subset = "" if n_ppol == n else f" (same-distribution subset: first {n_ppol} episodes)"
    print(
        f"ppol BehavioralFingerprintExtractor: {ppol_seconds:.2f} s for {n_ppol} episodes"
        f"{subset} = {ppol_rate:,.0f} episodes/s ({1e6 / ppol_rate:.0f} µs/episode); "
        f"CPU {n_ppol / ppol_cpu:,.0f} episodes/s"
    )
    wall_ratio = usi_rate / ppol_rate
    cpu_ratio = (n / usi_cpu) / (n_ppol / ppol_cpu)
    print(
        f"ratio usi / ppol (episodes/s): {wall_ratio:.1f}x wall clock, {cpu_ratio:.1f}x CPU time "
        "(target >= 10x)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS {rss:.0f} MB (includes all {n} parsed episodes held in memory)")


if __name__ == "__main__":
    main()
