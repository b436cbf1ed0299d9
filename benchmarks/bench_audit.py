"""The audit against known errors, and its speed: precision/recall per kind, episodes/s.

    .venv/bin/python benchmarks/bench_audit.py [--rate 0.25] [--tasks N] [--episodes 20000]

1. Ground truth: ``offline/flaky`` (usi.llm.offline.flaky) plays the user against
   ``offline/oracle`` on the τ² airline and retail tasks (the first N of each, default all),
   committing each error kind with chance ``--rate`` per episode and recording what it did in
   ``metadata.injected_errors``. The audit's verdict is compared with it per (episode, kind):
   precision = flagged and injected / flagged, recall = flagged and injected / injected.
2. Throughput: the same episodes, copied to ``--episodes`` in memory, audited by
   ``usi.audit.audit_episode`` and fingerprinted by ``usi.fingerprint.fingerprint_frame`` (the
   peer: another per-episode pass over the same conversations), interleaved block by block so
   both see the same load; wall and CPU time both reported.
   End to end: the same episodes written to a JSONL file, read and audited
   (``usi.audit.audit_file``) against reading them alone (``usi.data.read_canonical``).
   ``--reference-tasks N``: the flag rates of ``offline/cooperative`` and ``offline/terse``.
3. Flag rates on the real human sample (``../shared/data/tau-usi-sample``), when present.

Figures are printed, never asserted: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from usi.tau.tasks import DOMAINS

if TYPE_CHECKING:
    from usi.core.episode import Episode

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CANDIDATES = (
    REPO.parent / "shared" / "data" / "tau-usi-sample" / "tau_usi_sample.json",
    Path("/work/shared/data/tau-usi-sample/tau_usi_sample.json"),
)
BLOCK = 2000
_SERVERS: list[object] = []


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_flaky(rate: float, n_tasks: int | None, out_dir: Path) -> list[Episode]:
    os.environ["USI_OFFLINE_FLAKY"] = str(rate)
    return run_user("offline/flaky", n_tasks, out_dir)


def run_user(user: str, n_tasks: int | None, out_dir: Path) -> list[Episode]:
    """``user`` against ``offline/oracle`` on the first ``n_tasks`` tasks of both domains."""
    from loguru import logger

    logger.remove()
    from usi.data.readers import read_episodes
    from usi.llm.offline.server import OfflineConfig, OfflineServer, set_default_server
    from usi.run.episode import RoleSettings, RunSettings, select_tasks
    from usi.run.runner import run_episodes

    if not _SERVERS:  # one in-process server: it reads USI_OFFLINE_FLAKY from this process
        server = OfflineServer(OfflineConfig())
        _SERVERS.append(server)
        set_default_server(server)
    episodes: list[Episode] = []
    for domain in DOMAINS:
        settings = RunSettings(
            domain=domain,
            agent=RoleSettings("offline/oracle", temperature=0.0),
            user=RoleSettings(user, temperature=0.0),
            survey=False,
        )
        tasks = select_tasks(domain, None, None)[:n_tasks]
        out = out_dir / f"{user.replace('/', '-')}-{domain}.jsonl"
        started = time.perf_counter()
        summary = run_episodes(settings, out, task_ids=tasks, concurrency=8, progress=False)
        print(
            f"ran {user} on {len(tasks)} {domain} tasks: {summary.finished} episodes, "
            f"{summary.errors} errors, {time.perf_counter() - started:.1f} s"
        )
        episodes += read_episodes(out)
    return episodes


def precision_recall(episodes: list[Episode]) -> None:
    from usi.audit import KINDS, audit_episode

    counts = {k: [0, 0, 0] for k in KINDS}  # true positives, flagged, injected
    for episode in episodes:
        found = audit_episode(episode).kinds()
        truth = {e["kind"] for e in episode.metadata["injected_errors"]}
        for kind in KINDS:
            counts[kind][0] += kind in found and kind in truth
            counts[kind][1] += kind in found
            counts[kind][2] += kind in truth
    print(f"\nprecision / recall per kind over {len(episodes)} episodes (target ≥ 0.9 each)")
    print(f"{'kind':<26}{'injected':>9}{'flagged':>9}{'both':>7}{'precision':>11}{'recall':>8}")
    for kind, (tp, flagged, injected) in counts.items():
        precision = f"{tp / flagged:.3f}" if flagged else "–"
        recall = f"{tp / injected:.3f}" if injected else "–"
        print(f"{kind:<26}{injected:>9}{flagged:>9}{tp:>7}{precision:>11}{recall:>8}")


def _audit_all(episodes: list[Episode]) -> None:
    from usi.audit import audit_episode

    for episode in episodes:
        audit_episode(episode)


def throughput(episodes: list[Episode], n: int) -> None:
    from usi.audit import audit_episode
    from usi.fingerprint import fingerprint_frame

    copies = [
        episodes[i % len(episodes)].model_copy(update={"episode_id": f"copy-{i}"}) for i in range(n)
    ]
    for episode in copies[:50]:  # warm the task caches outside the clock
        audit_episode(episode)
    audit = [0.0, 0.0]
    peer = [0.0, 0.0]
    for start in range(0, n, BLOCK):
        block = copies[start : start + BLOCK]
        wall, cpu = _timed(partial(_audit_all, block))
        audit[0] += wall
        audit[1] += cpu
        wall, cpu = _timed(partial(fingerprint_frame, block))
        peer[0] += wall
        peer[1] += cpu
    print(f"\nthroughput on {n} episodes (in memory, same episodes, interleaved blocks of {BLOCK})")
    for name, (wall, cpu) in (("usi audit (rules)", audit), ("fingerprint (peer)", peer)):
        print(f"{name:<22}{n / wall:>10,.0f} episodes/s wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    print(f"audit / fingerprint wall time: {audit[0] / peer[0]:.2f}")


def end_to_end(episodes: list[Episode], n: int, out_dir: Path) -> None:
    """From a canonical JSONL file: read + audit (``audit_file``) against reading alone."""
    from usi.audit import audit_file
    from usi.data.io import write_episodes
    from usi.data.readers import read_canonical

    path = out_dir / "corpus.jsonl"
    write_episodes(
        path,
        (
            episodes[i % len(episodes)].model_copy(update={"episode_id": f"file-{i}"})
            for i in range(n)
        ),
    )
    read_wall, read_cpu = _timed(lambda: sum(1 for _ in read_canonical(path)))
    audit_wall, audit_cpu = _timed(lambda: audit_file(path))
    print(f"\nend to end from a {path.stat().st_size / 2**20:.0f} MiB JSONL file of {n} episodes")
    for name, wall, cpu in (
        ("read + audit", audit_wall, audit_cpu),
        ("read only (peer)", read_wall, read_cpu),
    ):
        print(f"{name:<22}{n / wall:>10,.0f} episodes/s wall {wall:6.2f} s   cpu {cpu:6.2f} s")


def reference_rates(n_tasks: int, out_dir: Path) -> None:
    """Flag rates of the other offline users, which make no deliberate mistakes."""
    from usi.audit import audit_episode, summarise
    from usi.audit.render import share

    for user in ("offline/cooperative", "offline/terse"):
        side = summarise([audit_episode(e) for e in run_user(user, n_tasks, out_dir)], user)
        rates = ", ".join(f"{kind} {share(rate)}" for kind, rate in side.kinds.items())
        print(f"  {user}: {rates}; any {share(side.any_error)}")


def sample_rates() -> None:
    sample = next((p for p in SAMPLE_CANDIDATES if p.exists()), None)
    if sample is None:
        print("\nreal sample absent: skipped")
        return
    from usi.audit import audit_file, summarise
    from usi.audit.render import share, skip_notes

    side = summarise(audit_file(sample), "human")
    print(f"\nflag rates on the real human sample ({sample.name}, {side.n_episodes} sessions)")
    for kind, rate in side.kinds.items():
        print(f"  {kind:<26}{share(rate)}")
    print(f"  {'any error':<26}{share(side.any_error)}")
    print(f"  {'failed with ≥ 1 error':<26}{share(side.attributable_failures)}")
    for note in skip_notes({"human": side}):
        print(f"  note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.25, help="chance of each kind")
    parser.add_argument("--tasks", type=int, default=None, help="tasks per domain (all)")
    parser.add_argument("--episodes", type=int, default=20000, help="throughput episodes")
    parser.add_argument(
        "--reference-tasks",
        type=int,
        default=0,
        help="also audit offline/cooperative and offline/terse on this many tasks per domain",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        episodes = run_flaky(args.rate, args.tasks, Path(tmp))
        precision_recall(episodes)
        throughput(episodes, args.episodes)
        end_to_end(episodes, args.episodes, Path(tmp))
        if args.reference_tasks:
            print("\nflag rates of the offline users that make no deliberate mistakes")
            reference_rates(args.reference_tasks, Path(tmp))
    sample_rates()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
