"""The main job, offline, on the embedded default: what ``make demo`` shows a new user.

It goes through every capability the way a researcher would with real data:

1. *data*: write the embedded corpus (scripted human-like reference users in three batches
   and two scripted simulators, :mod:`usi.demo.corpus`) as canonical JSON Lines;
2. *run*: benchmark the offline simulators ``offline/cooperative`` and ``offline/terse``
   against the ``offline/oracle`` agent on the same τ² tasks, through litellm, the τ²
   environment, the τ² evaluator and the simulator's own survey;
3. *score*: the User-Sim Index of every simulator against the human reference, with the
   human ceiling on top;
4. *report*: the study's analyses and figures as one HTML file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from usi.core.episode import HUMAN_SOURCE
from usi.demo.corpus import demo_tasks

OFFLINE_AGENT = "offline/oracle"
OFFLINE_SIMULATORS: tuple[str, ...] = ("offline/cooperative", "offline/terse")
RUN_TASKS_PER_DOMAIN = 3
"""Tasks per domain the demo runs live: enough to show the chain, few enough for seconds."""
RUN_CONCURRENCY = 4


@dataclass
class DemoResult:
    """Where the demo put everything, for the CLI to print."""

    corpus: dict[str, Path]
    runs: dict[str, list[Path]] = field(default_factory=dict)
    report: Path | None = None


def run_offline_simulators(
    out_dir: Path,
    tasks_per_domain: int = RUN_TASKS_PER_DOMAIN,
    log: Callable[[str], None] = print,
) -> dict[str, list[Path]]:
    """Run each offline simulator on the first demo tasks of each domain; return source → files.

    Re-running the demo resumes these files instead of starting over, like ``usi run --resume``.
    """
    from usi.run.episode import RoleSettings, RunSettings
    from usi.run.runner import run_episodes
    from usi.run.summary import summary_line

    by_domain: dict[str, list[str]] = {}
    for task in demo_tasks():
        by_domain.setdefault(task.domain, []).append(task.task_id)
    runs: dict[str, list[Path]] = {}
    for simulator in OFFLINE_SIMULATORS:
        for domain, task_ids in by_domain.items():
            settings = RunSettings(
                domain=domain,
                agent=RoleSettings(model=OFFLINE_AGENT),
                user=RoleSettings(model=simulator),
            )
            path = out_dir / f"{simulator.replace('/', '-')}-{domain}.jsonl"
            summary = run_episodes(
                settings,
                path,
                task_ids=task_ids[:tasks_per_domain],
                concurrency=RUN_CONCURRENCY,
                resume=True,
            )
            log(summary_line(summary))
            runs.setdefault(simulator, []).append(path)
    return runs


def simulator_tables(
    corpus: dict[str, Path], runs: dict[str, list[Path]], definitions: str = "usi-v2"
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The human table and one table per simulator (``definitions``' features), from the
    files the demo wrote."""
    from usi.metrics import load_table

    human = load_table(corpus[HUMAN_SOURCE], definitions=definitions)
    sims = {
        source: load_table(path, definitions=definitions)
        for source, path in corpus.items()
        if source != HUMAN_SOURCE
    }
    for source, paths in runs.items():
        sims[source] = pd.concat(
            [load_table(p, definitions=definitions) for p in paths], ignore_index=True
        )
    return human, sims


def report_inputs(
    corpus: dict[str, Path], runs: dict[str, list[Path]]
) -> tuple[Path, dict[str, Path | tuple[Path, ...]]]:
    """The same files for ``usi.report`` (a simulator's runs, one file per domain, pooled)."""
    sims: dict[str, Path | tuple[Path, ...]] = {
        source: path for source, path in corpus.items() if source != HUMAN_SOURCE
    }
    sims.update({source: tuple(paths) for source, paths in runs.items()})
    return corpus[HUMAN_SOURCE], sims
