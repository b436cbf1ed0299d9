"""How long does `usi report` take on a study-sized corpus? (issue: < 30 s on 2 cores)

Writes 30 simulators × 500 episodes plus 500 human episodes (3 batches, judge answers) as
canonical JSON Lines, then:

1. times `usi report` end to end in a fresh process (interpreter start, imports, reading,
   fingerprinting, scoring, figures, writing);
2. runs the same build in-process to print the per-stage breakdown;
3. times the peer figure measured in the same run: just loading the 31 tables
   (`usi.metrics.load_table`), and prints the ratio report / load.

Usage: .venv/bin/python benchmarks/bench_report.py [--sims 30] [--episodes 500] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from usi.report.synthetic import HUMAN_STYLE, SIM_STYLES, generate, write_corpus

FAMILIES = ("alpha", "beta", "gamma", "delta")


def write_study(root: Path, n_sims: int, n_episodes: int) -> tuple[Path, dict[str, Path], Path]:
    """The human file, one file per simulator (styles interpolated LLM-like → human-like)."""
    human = write_corpus(
        root / "human.jsonl",
        generate("human", n_episodes, 1, HUMAN_STYLE, n_tasks=165, n_batches=3, with_judge=True),
    )
    llm, mimic = SIM_STYLES["polite-llm"], SIM_STYLES["mimic"]
    sims: dict[str, Path] = {}
    lines = ["model,family,score"]
    for i in range(n_sims):
        w = i / max(1, n_sims - 1)
        style = replace(
            llm,
            short=(1 - w) * llm.short + w * mimic.short,
            polite=(1 - w) * llm.polite + w * mimic.polite,
            formal=(1 - w) * llm.formal + w * mimic.formal,
            upset=(1 - w) * llm.upset + w * mimic.upset,
            success_boost=(1 - w) * llm.success_boost + w * mimic.success_boost,
            leniency=(1 - w) * llm.leniency + w * mimic.leniency,
        )
        name = f"sim-{i:02d}"
        sims[name] = write_corpus(
            root / f"{name}.jsonl", generate(name, n_episodes, 2, style, n_tasks=165)
        )
        lines.append(f"{name},{FAMILIES[i % len(FAMILIES)]},{1100 + 7 * i + (i % 5) * 11}")
    capability = root / "capability.csv"
    capability.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return human, sims, capability


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=30)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--keep", type=Path, default=None, help="write the corpus here and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="usi-bench-report-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        human, sims, capability = write_study(root, args.sims, args.episodes)
        print(
            f"corpus: {args.sims} simulators × {args.episodes} + {args.episodes} human episodes "
            f"written in {time.perf_counter() - t:.1f} s"
        )

        # 1. End to end, as a user runs it.
        command = [sys.executable, "-m", "usi", "report", "--human", str(human)]
        for name, path in sims.items():
            command += ["--sim", f"{name}={path}"]
        command += ["--capability", str(capability), "-o", str(root / "report-cli")]
        t = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end_to_end = time.perf_counter() - t

        # 2. The peer: just loading the tables (reading + fingerprinting), same run.
        from usi.metrics import load_table

        t = time.perf_counter()
        load_table(human)
        for path in sims.values():
            load_table(path)
        load_only = time.perf_counter() - t

        # 3. The breakdown, in-process.
        from usi.report.build import build_report

        result = build_report(human, sims, root / "report-api", capability)

        # 4. CPU work, which (unlike wall time on a shared machine) does not depend on the
        #    neighbours: the same build in one process, CPU seconds of all its threads.
        cpu_started = time.process_time()
        build_report(human, sims, root / "report-serial", capability, workers=1)
        cpu = time.process_time() - cpu_started

    print(f"usi report end to end: {end_to_end:.1f} s wall (target < 30 s on 2 cores)")
    print(f"peer, load the {len(sims) + 1} tables only: {load_only:.1f} s")
    print(f"ratio report / load: {end_to_end / load_only:.1f}×")
    cores = os.cpu_count() or 1
    print(
        f"CPU work of one report (single process): {cpu:.1f} s → about {cpu / cores:.1f} s "
        f"wall on {cores} idle cores, plus the worker pool's start"
    )
    print("in-process breakdown (s):")
    for stage, seconds in result.timings.items():
        print(f"  {stage:<22} {seconds:6.2f}")
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
