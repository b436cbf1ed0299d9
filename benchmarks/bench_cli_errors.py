"""How fast does ``usi`` answer a mistake? One bad argument per command, timed end to end.

What it shows: the wall time of each command given one typical mistake (a missing file, an
output under a file, a flag with no effect, a busy port…), as a subprocess exactly as a user
types it, against the peer measured in the same run: ``usi --help``, the least any
invocation costs (Python start-up, typer, the command table). The issue's target is under
1 s for every argument error; before the checks moved ahead of the heavy imports, ``usi run``
and ``usi judge`` took 4–6 s (τ² and litellm were imported first).

Each command is run ``--repeat`` times and the median is printed; every run must exit 2
with one ``usi: error:`` line (the script says so when one does not). Prints figures and
ratios; asserts nothing about time (the machine is shared).

    .venv/bin/python benchmarks/bench_cli_errors.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tau_usi_small.json"


def _usi() -> list[str]:
    found = shutil.which("usi", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "usi"]


def _cases(root: Path, busy_port: int) -> dict[str, list[str]]:
    missing = str(root / "missing.jsonl")
    under_file = str(root / "a-file" / "out.jsonl")
    good = str(FIXTURE)
    return {
        "data convert (missing file)": ["data", "convert", missing, "-o", str(root / "o.jsonl")],
        "data fetch (--revision with --from)": ["data", "fetch", "--from", good, "--revision", "x"],
        "fingerprint (missing file)": ["fingerprint", missing],
        "score (missing file)": ["score", missing, "--human", good],
        "run (-o under a file)": ["run", "--domain", "retail", "--tasks", "0", "-o", under_file],
        "run (--user-plugin without plugin)": [
            "run", "--domain", "retail", "--user-plugin", "a:B", "-o", str(root / "r.jsonl"),
        ],
        "judge (missing file)": ["judge", missing, "--model", "offline/oracle", "-o", under_file],
        "report (-o under a file)": [
            "report", "--human", good, "--sim", f"a={good}", "-o", str(root / "a-file" / "r"),
        ],
        "study serve (busy port)": ["study", "serve", "--port", str(busy_port)],
        "study export (missing database)": [
            "study", "export", "--db", f"sqlite:///{root / 'no.db'}", "-o", str(root / "e.jsonl"),
        ],
        "demo (-o under a file)": ["demo", "-o", str(root / "a-file" / "demo")],
    }  # fmt: skip


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(args: list[str], repeat: int, cwd: Path) -> tuple[float, float, str]:
    """Median wall and CPU seconds over ``repeat`` runs, and '' or what broke the contract.

    CPU time (user + system of the child) is the steadier figure on a shared machine: wall
    time also counts the waits for a core.
    """
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    times = []
    cpus = []
    problem = ""
    for _ in range(repeat):
        started, cpu = time.perf_counter(), _cpu()
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
        lines = done.stderr.splitlines()
        if args[-1] != "--help" and (
            done.returncode != 2 or len(lines) != 1 or not lines[0].startswith("usi: error:")
        ):
            problem = f"exit {done.returncode}: {done.stderr.strip()[:120]!r}"
    return statistics.median(times), statistics.median(cpus), problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    usi = _usi()
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as busy:
        root = Path(tmp)
        (root / "a-file").write_text("a regular file\n")
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        peer, peer_cpu, _ = _time([*usi, "--help"], options.repeat, root)
        print(
            f"peer: usi --help  wall {peer:.3f} s, CPU {peer_cpu:.3f} s "
            f"(medians of {options.repeat}; load average {os.getloadavg()[0]:.1f})"
        )
        print(
            f"{'command (mistake)':<38} {'wall s':>7} {'CPU s':>7} {'CPU×peer':>8}  {'CPU<1s':>6}"
        )
        worst = worst_cpu = 0.0
        for label, args in _cases(root, busy.getsockname()[1]).items():
            seconds, cpu, problem = _time([*usi, *args], options.repeat, root)
            worst, worst_cpu = max(worst, seconds), max(worst_cpu, cpu)
            verdict = "yes" if cpu < 1.0 else "NO"
            print(f"{label:<38} {seconds:7.3f} {cpu:7.3f} {cpu / peer_cpu:8.2f}  {verdict:>6}")
            if problem:
                print(f"    contract broken: {problem}")
        print(
            f"slowest argument error: wall {worst:.3f} s, CPU {worst_cpu:.3f} s "
            f"({worst_cpu / peer_cpu:.2f}× the CPU of usi --help)"
        )


if __name__ == "__main__":
    main()
