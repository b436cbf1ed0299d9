"""What a human study's size buys: the ceiling and each component under usi-v1 and usi-v2.

For a team planning a study: how far does the human ceiling (and each component of it)
move with the number of sessions, and does it measure people or sampling noise?

- ``k per batch``: k sessions drawn (without replacement, seeded) from each batch, for
  k = 8, 16, 24, 32 and all, ``--draws`` times each; the ceiling is scored on the draw as
  ``usi score --ceiling`` would (usi-v2: ``human_ceiling``; usi-v1: the mean over
  leave-one-batch-out folds of the v1 components, as usi ≤ 0.x computed it).
- ``random halves``: all sessions shuffled regardless of batch and split in two halves,
  one scored against the other, ``--draws`` times.

Prints mean ± sd over draws of the ceiling and of each component, v1 beside v2. v1 is
computed from the same per-side summaries (:func:`usi.metrics.v1_components`), so the two
rows differ only by the definitions. Asserts nothing.

    .venv/bin/python benchmarks/bench_stability.py HUMAN_FILE [--draws 20] [--seed 0]

``HUMAN_FILE``: any episode file ``usi`` reads (the raw tau-usi JSON, or its conversion).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from usi.metrics import (
    COMPONENT_NAMES,
    human_ceiling,
    human_rows,
    load_table,
    score_pair,
    summarize,
    usi_of,
    v1_components,
)

K_PER_BATCH = (8, 16, 24, 32)
Scores = dict[str, float | None]


def v1_ceiling(human: pd.DataFrame) -> Scores:
    """usi-v1's ceiling: the mean of the v1 components over leave-one-batch-out folds."""
    batches = sorted(int(b) for b in human["batch"].dropna().unique())
    folds = []
    for b in batches:
        held = human["batch"] == b
        folds.append(v1_components(summarize(human[held], human[~held])))
    return _fold_mean(folds)


def _fold_mean(folds: list[Scores]) -> Scores:
    out: Scores = {}
    for c in COMPONENT_NAMES:
        present = [v for f in folds if (v := f.get(c)) is not None]
        out[c] = float(np.mean(present)) if present else None
    per_fold = [_usi(f) for f in folds]
    defined = [v for v in per_fold if v is not None]
    out["USI"] = float(np.mean(defined)) if defined else None
    return out


def _usi(scores: Scores) -> float | None:
    """The one USI mean (:func:`usi.metrics.usi_of`) of one set of components, or None."""
    value = float(usi_of(scores)[0])
    return None if np.isnan(value) else value


def v2_ceiling(human: pd.DataFrame) -> Scores:
    ceiling = human_ceiling(human, n_bootstrap=0)
    return {"USI": ceiling.value, **{c: getattr(ceiling.components, c) for c in COMPONENT_NAMES}}


def halves(human: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = rng.permutation(len(human))
    cut = len(human) // 2
    return human.iloc[order[:cut]], human.iloc[order[cut:]]


def v1_halves(first: pd.DataFrame, second: pd.DataFrame) -> Scores:
    scores = v1_components(summarize(first, second))
    return {"USI": _usi(scores), **scores}


def v2_halves(first: pd.DataFrame, second: pd.DataFrame) -> Scores:
    result = score_pair(first, second, "half", n_bootstrap=0, per_batch=False, floors=(None, None))
    return {"USI": result.usi.value, **{c: getattr(result.components, c) for c in COMPONENT_NAMES}}


def subsample(human: pd.DataFrame, k: int | None, rng: np.random.Generator) -> pd.DataFrame:
    """k sessions of each batch (all of them when k is None or the batch is smaller)."""
    parts = []
    for _, batch in human.groupby("batch", sort=True):
        take = len(batch) if k is None else min(k, len(batch))
        parts.append(batch.iloc[np.sort(rng.choice(len(batch), size=take, replace=False))])
    return pd.concat(parts, ignore_index=True)


def _cell(values: list[float | None], digits: int = 3) -> str:
    """mean ± sd over the draws that define the value; (n/N) when some draws do not."""
    kept = np.array([v for v in values if v is not None], dtype=float)
    width = 13 + (digits == 3)
    if kept.size == 0:
        return "n/a".rjust(width + 7)
    sd = float(kept.std(ddof=1)) if kept.size > 1 else 0.0
    text = f"{kept.mean():.{digits}f} ± {sd:.{digits}f}".rjust(width)
    missing = "" if kept.size == len(values) else f" ({kept.size}/{len(values)})"
    return text + missing.ljust(7)


def run(
    label: str,
    n_sessions: int,
    draws: list[tuple[Callable[[], Scores], Callable[[], Scores]]],
) -> None:
    v1 = [a() for a, _ in draws]
    v2 = [b() for _, b in draws]
    for name, rows in (("v1", v1), ("v2", v2)):
        cells = [_cell([r["USI"] for r in rows], digits=1)]
        cells += [_cell([r[c] for r in rows]) for c in COMPONENT_NAMES]
        print(f"{label:<16}{n_sessions:>5}{len(draws):>6}  {name}  " + " ".join(cells), flush=True)


#: ``make bench`` runs every script without arguments: the real sample beside the repository.
SAMPLE = (
    Path(__file__).resolve().parents[1].parent / "shared/data/tau-usi-sample/tau_usi_sample.json"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "human_file",
        type=Path,
        nargs="?",
        default=SAMPLE,
        help="human episodes in any format (default: the shared real-data sample)",
    )
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.human_file.exists():
        print(f"bench_stability: {args.human_file} is absent: nothing to measure (give HUMAN_FILE)")
        return
    human = human_rows(load_table(args.human_file))
    sizes = human.groupby("batch").size()
    print(
        f"{len(human)} human sessions, {human['task_id'].nunique()} tasks, batches "
        + ", ".join(f"{b}: {n}" for b, n in sizes.items())
        + f"; {args.draws} draws per row, seed {args.seed}"
    )
    header = f"{'sample':<16}{'n':>5}{'draws':>6}  def  {'ceiling USI':>20} " + " ".join(
        f"{c:>21}" for c in COMPONENT_NAMES
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for k in K_PER_BATCH:
        if k > int(sizes.max()):
            continue
        samples = [subsample(human, k, rng) for _ in range(args.draws)]
        draws = [((lambda s=s: v1_ceiling(s)), (lambda s=s: v2_ceiling(s))) for s in samples]
        run(f"{k} per batch", len(samples[0]), draws)
    run("all per batch", len(human), [((lambda: v1_ceiling(human)), (lambda: v2_ceiling(human)))])
    pairs = [halves(human, rng) for _ in range(args.draws)]
    draws = [
        ((lambda a=a, b=b: v1_halves(a, b)), (lambda a=a, b=b: v2_halves(a, b))) for a, b in pairs
    ]
    run("random halves", len(human), draws)
    print(
        f"\n(ceiling: v2 leave-one-batch-out with ≥ 3 batches, batch vs batch with 2; v1 the "
        f"mean over leave-one-batch-out folds; (n/N): defined in n of N draws; halves: "
        f"{len(human) // 2} vs "
        f"{len(human) - len(human) // 2} sessions regardless of batch; "
        f"{time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
