"""Where the point estimate sits in its own bootstrap interval, and how often the interval covers.

The task bootstrap's replicates sit below the point estimate (Dice only falls when noise is
added to both sides), so the percentile interval put the estimate near its top. This
benchmark measures, for the usi-v2 score of one human batch as a "simulator" against the
other (the ceiling's fold; with one batch, one half against the other):

- on the full sample: the point estimate, the mean replicate − the estimate, the interval
  and the estimate's position in it ((estimate − low) / (high − low): 0.5 = the middle);
- on ``--draws`` subsamples of ``--share`` of the tasks (seeded): how many intervals hold the
  full-sample estimate (coverage; nominal 95%), and the mean position of each subsample's own
  estimate in its own interval.

Three intervals are read off the same replicates (same feature set, same seeds): the plain
percentile interval, BCa (:func:`usi.metrics.bootstrap.bca_interval`) and the bias-centred
percentile interval ``usi score`` reports. A last row is ``score_pair`` itself, so the same
script measures an older checkout (``PYTHONPATH`` set to its ``src``: only that row is
printed when the comparison functions are absent) for the "before" figures. Asserts nothing.

    .venv/bin/python benchmarks/bench_interval.py [HUMAN_FILE] [--draws 80] [--share 0.4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from usi.inputs.table import task_keys
from usi.metrics import COMPONENT_NAMES, human_rows, load_table, score_pair, split_half

try:  # absent before the bias-centred interval: then only ``usi score``'s row is measured
    from usi.metrics import component_arrays, summarize, usi_of
    from usi.metrics.bootstrap import (
        bca_interval,
        bootstrap_usi,
        centred_interval,
        jackknife_usi,
        percentile_interval,
    )
    from usi.metrics.components import point_support

    COMPARE = True
except ImportError:
    COMPARE = False

Interval = tuple[float, float]

#: ``make bench`` runs every script without arguments: the real sample beside the repository.
SAMPLE = (
    Path(__file__).resolve().parents[1].parent / "shared/data/tau-usi-sample/tau_usi_sample.json"
)


def sides(human: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The ceiling's fold: first batch vs the rest, or half vs half with a single batch."""
    batches = sorted(int(b) for b in human["batch"].dropna().unique())
    if len(batches) >= 2:
        held = human["batch"] == batches[0]
        label = f"batch {batches[0]} vs the other batches"
        return human[held].reset_index(drop=True), human[~held].reset_index(drop=True), label
    first, second = split_half(human)
    return first, second, "half 1 vs half 2"


def measure(
    sim: pd.DataFrame, hum: pd.DataFrame, n_bootstrap: int, seed: int
) -> tuple[float, float, float, float | None]:
    """(estimate, low, high, mean replicate − estimate or None) of one usi-v2 score."""
    result = score_pair(
        sim.assign(source="sim"),
        hum,
        "sim",
        n_bootstrap=n_bootstrap,
        seed=seed,
        per_batch=False,
        floors=(None, None),
    )
    value, low, high = result.usi.value, result.usi.ci_low, result.usi.ci_high
    if value is None or low is None or high is None:
        return float("nan"), float("nan"), float("nan"), None
    bias = getattr(result.uncertainty, "replicate_bias", None)
    return value, low, high, bias


def compared(
    sim: pd.DataFrame, hum: pd.DataFrame, n_bootstrap: int, seed: int
) -> tuple[float, dict[str, Interval]]:
    """The estimate and three intervals read off one set of replicates (new code only)."""
    paired = summarize(sim.assign(source="sim"), hum)
    support = point_support(paired)
    values = component_arrays(paired, paired.ones(), support).values()
    used = [c for c in COMPONENT_NAMES if not np.isnan(values[c][0])]
    value = float(usi_of(values, used)[0])
    replicates = bootstrap_usi(paired, used, n_bootstrap, seed, support)
    replicates = replicates[~np.isnan(replicates)]
    return value, {
        "percentile": percentile_interval(replicates),
        "BCa": bca_interval(replicates, value, jackknife_usi(paired, used, support)),
        "bias-centred": centred_interval(replicates, value),
    }


def position(value: float, low: float, high: float) -> float:
    """Where ``value`` sits in [low, high]: 0 at the low end, 1 at the high end."""
    return (value - low) / (high - low) if high > low else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("human_file", type=Path, nargs="?", default=SAMPLE)
    parser.add_argument("--draws", type=int, default=80)
    parser.add_argument("--share", type=float, default=0.4)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.human_file.exists():
        print(f"bench_interval: {args.human_file} is absent: nothing to measure (give HUMAN_FILE)")
        return
    start = time.perf_counter()
    human = human_rows(load_table(args.human_file))
    sim, hum, label = sides(human)
    value, low, high, bias = measure(sim, hum, args.bootstrap, args.seed)
    print(
        f"{len(human)} human sessions; {label}; {args.bootstrap} replicates, seed {args.seed}\n"
        f"full sample: USI {value:.1f}, interval [{low:.1f}, {high:.1f}], estimate at "
        f"{position(value, low, high):.2f} of its interval"
        + ("" if bias is None else f", mean replicate − estimate {bias:+.2f}")
    )
    rng = np.random.default_rng(args.seed)
    tasks = np.unique(pd.concat([task_keys(sim), task_keys(hum)]).dropna().to_numpy(dtype=str))
    take = max(1, round(args.share * len(tasks)))
    draws = [set(rng.choice(tasks, size=take, replace=False)) for _ in range(args.draws)]
    parts = [(sim[task_keys(sim).isin(d)], hum[task_keys(hum).isin(d)]) for d in draws]
    print(
        f"{args.draws} subsamples of {take} of {len(tasks)} tasks ({args.share:.0%}); "
        "coverage = intervals holding the full-sample USI; position = (estimate − low) / "
        "(high − low), 0.5 = the middle"
    )
    print(
        f"{'interval':<24}{'full: interval':>18}{'position':>10}{'coverage':>10}"
        f"{'mean position':>15}"
    )
    rows: dict[str, list[tuple[float, Interval]]] = {}
    full: dict[str, Interval] = {}
    if COMPARE:
        _, full = compared(sim, hum, args.bootstrap, args.seed)
        for i, (s, h) in enumerate(parts):
            v, intervals = compared(s, h, args.bootstrap, args.seed + 1 + i)
            for name, interval in intervals.items():
                rows.setdefault(name, []).append((v, interval))
    full["usi score"] = (low, high)
    for i, (s, h) in enumerate(parts):
        v, lo, hi, _ = measure(s, h, args.bootstrap, args.seed + 1 + i)
        rows.setdefault("usi score", []).append((v, (lo, hi)))
    for name, draws_of in rows.items():
        kept = [(v, iv) for v, iv in draws_of if not np.isnan(v)]
        covered = sum(iv[0] <= value <= iv[1] for _, iv in kept)
        mean_position = float(np.nanmean([position(v, *iv) for v, iv in kept]))
        lo_, hi_ = full[name]
        print(
            f"{name:<24}{f'[{lo_:.1f}, {hi_:.1f}]':>18}{position(value, lo_, hi_):>10.2f}"
            f"{f'{covered}/{len(kept)}':>10}{mean_position:>15.2f}"
        )
    print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
