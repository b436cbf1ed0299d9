"""Benchmark ``usi score`` end to end on synthetic corpora of 5k, 10k and 20k episodes.

What it shows:
- wall time of ``usi score CORPUS --human CORPUS --json`` as a subprocess (target: < 10 s
  at 20k episodes on 2 cores), against the straightforward peer measured in the same run:
  pandas building a frame from the same JSON Lines with ``json.loads`` per line (which only
  *reads* the data; it computes nothing);
- ``usi score --json`` with its audit block against ``usi fingerprint --json`` of the same
  file, per definition set (target: at most 1.5×): the data is read once, and the rules, the
  feature table and the audit come out of that one pass; both in one process, run
  alternately ``--repeats`` times (default 3), best of each;
- peak RSS of each run: the scorer streams episodes in chunks and keeps only the feature
  table, so its memory should grow by roughly the table's size per extra episode, while
  the peer, holding every conversation, grows with the text.

Prints figures and ratios; asserts nothing about time (the machine is shared).

    .venv/bin/python benchmarks/bench_score.py [--sizes 5000,10000,20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import write_corpus

PEER = """
import json, sys
import pandas as pd
with open(sys.argv[1], encoding="utf-8") as handle:
    frame = pd.DataFrame([json.loads(line) for line in handle if line.strip()])
print(len(frame))
"""


def run_measured(command: list[str]) -> tuple[float, float, float, bytes]:
    """(wall s, CPU s, peak RSS MiB, stdout) of that very child (and the workers it waited
    for), from wait4's rusage."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out_file, stderr=err_file, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {err.decode()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024.0, out  # ru_maxrss is in KiB on Linux


def table_bytes_per_episode(corpus: Path) -> float:
    """Deep memory of the feature table per episode (measured in this process)."""
    from usi.metrics import load_table

    table = load_table(corpus)
    return float(table.memory_usage(deep=True).sum()) / len(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--definitions",
        default="tau-usi,usi-v2",
        help="definition sets to time (the first is measured at every size)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each side of the score/fingerprint ratio"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    sets = args.definitions.split(",")
    usi = [sys.executable, "-m", "usi", "score", "--definitions", sets[0]]
    rows = []
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} at start (wall times need an idle box)")
    auto: tuple[float, float, float] | None = None
    with tempfile.TemporaryDirectory(prefix="usi-bench-score-") as tmp:
        for n in sizes:
            corpus = write_corpus(Path(tmp) / f"corpus-{n}.jsonl", n, args.seed)
            size_mib = corpus.stat().st_size / 2**20
            # one process at every size, so the memory series compares like with like
            score_s, score_cpu, score_rss, out = run_measured(
                [*usi, str(corpus), "--human", str(corpus), "--json", "--workers", "1"]
            )
            board = json.loads(out)
            peer_s, peer_cpu, peer_rss, _ = run_measured([sys.executable, "-c", PEER, str(corpus)])
            rows.append((n, size_mib, score_s, score_rss, peer_s, peer_rss, board))
            print(
                f"{n:>6} episodes ({size_mib:5.1f} MiB): usi score {score_s:6.2f} s wall "
                f"{score_cpu:6.2f} s CPU, peak RSS {score_rss:6.1f} MiB | peer json.loads+pandas "
                f"{peer_s:5.2f} s wall {peer_cpu:5.2f} s CPU, peak RSS {peer_rss:6.1f} MiB | "
                f"wall ratio usi/peer {score_s / peer_s:5.2f}",
                flush=True,
            )
        # the default: a large file is read by 2 worker processes
        wall, cpu, rss, _ = run_measured([*usi, str(corpus), "--human", str(corpus), "--json"])
        auto = (wall, cpu, rss)
        print(
            f"{sizes[-1]:>6} episodes, default --workers (2 above 16 MiB): {wall:6.2f} s wall "
            f"{cpu:6.2f} s CPU, peak RSS {rss:6.1f} MiB per process",
            flush=True,
        )
        # the score alone: the audit block beside it reads every conversation again
        bare = [*usi, str(corpus), "--human", str(corpus), "--json", "--no-audit"]
        wall, cpu, rss, _ = run_measured(bare)
        no_audit = (wall, cpu)
        print(
            f"{sizes[-1]:>6} episodes, --no-audit (default workers): {wall:6.2f} s wall "
            f"{cpu:6.2f} s CPU, peak RSS {rss:6.1f} MiB; the audit block costs "
            f"{auto[0] - wall:+.2f} s wall, {auto[1] - cpu:+.2f} s CPU",
            flush=True,
        )
        for other in sets[1:]:  # the other sets at the largest size, same file, same run
            command = [*usi[:-1], other, str(corpus), "--human", str(corpus), "--json"]
            wall, cpu, rss, _ = run_measured([*command, "--no-audit"])
            print(
                f"{sizes[-1]:>6} episodes, --definitions {other} --no-audit: {wall:6.2f} s wall "
                f"{cpu:6.2f} s CPU, peak RSS {rss:6.1f} MiB",
                flush=True,
            )
        # one read: score with its audit block vs just fingerprinting the same file
        ratios = []
        for chosen in sets:
            score = [*usi[:-1], chosen, str(corpus), "--human", str(corpus), "--json"]
            fingerprint = [sys.executable, "-m", "usi", "fingerprint", str(corpus), "--json"]
            # alternately, best of --repeats each: one run of each swings by 20% on a shared box
            s_runs, f_runs = [], []
            for _ in range(args.repeats):
                s_runs.append(run_measured([*score, "--workers", "1"])[:3])
                f_runs.append(run_measured([*fingerprint, "--definitions", chosen])[:3])
            s_wall, s_cpu, s_rss = min(s_runs)
            f_wall, f_cpu, f_rss = min(f_runs)
            ratios.append((chosen, s_wall / f_wall, s_cpu / f_cpu))
            if chosen == sets[0]:  # the default: 2 reading workers above 16 MiB
                print(
                    f"{sizes[-1]:>6} episodes, --definitions {chosen}: usi score --json (audit "
                    f"block, default workers) / usi fingerprint --json {auto[0] / f_wall:4.2f}× "
                    "wall",
                    flush=True,
                )
            print(
                f"{sizes[-1]:>6} episodes, --definitions {chosen}: usi score --json (audit "
                f"block, 1 process) {s_wall:6.2f} s wall {s_cpu:6.2f} s CPU, {s_rss:6.1f} MiB | "
                f"usi fingerprint --json {f_wall:6.2f} s wall {f_cpu:6.2f} s CPU, "
                f"{f_rss:6.1f} MiB | score/fingerprint {s_wall / f_wall:4.2f}× wall, "
                f"{s_cpu / f_cpu:4.2f}× CPU (target ≤ 1.5×)",
                flush=True,
            )
        per_episode = table_bytes_per_episode(Path(tmp) / f"corpus-{sizes[0]}.jsonl")

    print()
    print(f"feature table: {per_episode:.0f} bytes per episode (deep, measured at {sizes[0]})")
    first, last = rows[0], rows[-1]
    extra = last[0] - first[0]
    if extra > 0:
        score_growth = (last[3] - first[3]) * 2**20 / extra
        peer_growth = (last[5] - first[5]) * 2**20 / extra
        text = (last[1] - first[1]) * 2**20 / extra
        print(
            f"RSS growth per extra episode, {first[0]} → {last[0]}: usi score "
            f"{score_growth:,.0f} B (feature table {per_episode:,.0f} B, plus the scoring "
            f"matrices), peer {peer_growth:,.0f} B (the JSON text is {text:,.0f} B per episode)"
        )
    print()
    board = last[6]
    ceiling = board["ceiling"] or {}
    value = ceiling.get("value", (ceiling.get("usi") or {}).get("value"))
    print(
        f"at {last[0]} episodes ({board['definitions']}): ceiling "
        f"{'n/a' if value is None else f'{value:.1f}'}; "
        + ", ".join(f"{r['simulator']} {r['usi']['value']:.1f}" for r in board["leaderboard"])
    )
    best = min(last[2], auto[0]) if auto else last[2]
    print(
        f"usi score at {last[0]} episodes: {best:.2f} s wall with the audit, "
        f"{no_audit[0]:.2f} s without (target < 10 s on 2 cores), "
        f"{best / last[4]:.2f}× the time of just parsing the file with json.loads + pandas"
    )
    for chosen, wall_ratio, cpu_ratio in ratios:
        print(
            f"usi score --json (with audit) / usi fingerprint --json, {chosen}: "
            f"{wall_ratio:.2f}× wall, {cpu_ratio:.2f}× CPU (target ≤ 1.5×)"
        )


if __name__ == "__main__":
    main()
