"""The two sides as the paper's scorer groups them (spec §10.1): human batches, simulator runs.

Humans: one dict per batch, task key → session (a later session of the same key replaces an
earlier one, as a dict does in the reference). Simulators: the reference groups a file's
entries twice, differently, and both groupings are part of the definition:

- for the feature rows (``split_model_runs``): a file of at most 170 entries is *one* run
  keyed by its instance ids as written — so suffixed ids (``airline_0_1``) then match no
  human session; above 170 entries, ids split at their last ``_``: suffix ``1``/``2``/``3``
  is a run of its own keyed by the rest, anything else goes to run ``"0"`` under its whole
  id (so an unsuffixed ``retail_1`` becomes run ``1``, key ``retail``);
- for the ECE (``per_run_rewards``): ``{domain}_{index}_{run}`` gives run ``run`` (any
  number), anything else run 1, always keyed by the task; entries with ``keep: false`` are
  left out here while ``keep: null`` stays (the rows leave out both).

usi's own runs have no instance ids: trial k is run k + 1 for both groupings, keyed by the
task (§10.1), whatever the number of entries.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

SPLIT_RUNS_ABOVE = 170
"""The reference splits a results file into runs by suffix only above this many entries."""
RUN_SUFFIXES = frozenset({"1", "2", "3"})
_TASK_RE = re.compile(r"^(airline|retail)_(\d+)")
_RUN_RE = re.compile(r"^(airline|retail)_(\d+)_(\d+)")


def task_key(instance_id: str) -> str:
    """``{domain}_{index}`` of an instance id (the reference's ``task_key``: airline/retail)."""
    match = _TASK_RE.match(instance_id)
    return f"{match.group(1)}_{match.group(2)}" if match else instance_id


def _truthy(keep: object) -> bool:
    if keep is None:
        return False
    if isinstance(keep, float) and math.isnan(keep):
        return False
    return bool(keep)


@dataclass
class SimulatorSide:
    """A simulator's entries grouped for the rows and for the ECE (row indices of its table)."""

    row_runs: list[dict[str, int]]  # per run, in the reference's order: key → row
    ece_runs: dict[int, dict[str, int]]  # run index → task → success (0/1)
    left_out: dict[str, int] = field(default_factory=dict)


@dataclass
class HumanSide:
    """The people's kept sessions per batch: task key → row, and task → success."""

    batches: list[int]
    rows: list[dict[str, int]]
    rewards: list[dict[str, int]]
    ids: list[dict[str, str]]  # per batch: task key → episode id (to find its ratings)
    left_out: dict[str, int] = field(default_factory=dict)


def success(reward: object) -> int:
    """1 when the reward is > 0 (a missing reward is 0), as the reference counts it."""
    if reward is None or (isinstance(reward, float) and math.isnan(reward)):
        return 0
    return 1 if float(reward) > 0 else 0  # type: ignore[arg-type]


def human_side(table: pd.DataFrame) -> HumanSide:
    """Batches in ascending order; a session without a tau-usi index is left out, counted."""
    batch_values = table["batch"].fillna(1).astype(int).tolist()
    batches = sorted(set(batch_values))
    rows: list[dict[str, int]] = [{} for _ in batches]
    rewards: list[dict[str, int]] = [{} for _ in batches]
    ids: list[dict[str, str]] = [{} for _ in batches]
    left_out = {"no tau-usi index": 0, "keep false": 0}
    at = {b: i for i, b in enumerate(batches)}
    keys = table["tau_key"].tolist()
    keeps = table["keep"].tolist()
    reward_values = table["reward"].tolist()
    episode_ids = table["episode_id"].astype(str).tolist()
    for row, (key, keep, batch) in enumerate(zip(keys, keeps, batch_values, strict=True)):
        if not isinstance(key, str):
            left_out["no tau-usi index"] += 1
            continue
        if not _truthy(keep):
            left_out["keep false"] += 1
            continue
        i = at[batch]
        rows[i][key] = row
        rewards[i][task_key(key)] = success(reward_values[row])
        ids[i][key] = episode_ids[row]
    return HumanSide(batches, rows, rewards, ids, {k: v for k, v in left_out.items() if v})


def simulator_side(table: pd.DataFrame) -> SimulatorSide:
    """Group a simulator's rows as the reference does (module doc)."""
    instance_ids = table["instance_id"].tolist()
    keeps = table["keep"].tolist()
    reward_values = table["reward"].tolist()
    left_out = {"no tau-usi index": 0, "keep false": sum(not _truthy(k) for k in keeps)}
    if len(table) and all(isinstance(i, str) for i in instance_ids):
        side = _paper_runs(instance_ids, keeps, reward_values)
        side.left_out = {"keep false": left_out["keep false"]} if left_out["keep false"] else {}
        return side
    runs: dict[int, dict[str, int]] = {}
    ece: dict[int, dict[str, int]] = {}
    for row, (key, trial, keep) in enumerate(
        zip(table["tau_key"].tolist(), table["trial"].tolist(), keeps, strict=True)
    ):
        if not isinstance(key, str):
            left_out["no tau-usi index"] += 1
            continue
        run = (
            1
            if trial is None or (isinstance(trial, float) and math.isnan(trial))
            else int(trial) + 1
        )
        if _truthy(keep):
            runs.setdefault(run, {})[key] = row
        if keep is not False:
            ece.setdefault(run, {})[task_key(key)] = success(reward_values[row])
    return SimulatorSide(
        [runs[r] for r in sorted(runs)], ece, {k: v for k, v in left_out.items() if v}
    )


def _paper_run(iid: str, split: bool) -> tuple[str, str]:
    """(run label, key) of an entry for the feature rows (``split_model_runs``)."""
    if not split:
        return "single", iid
    base, _, suffix = iid.rpartition("_")
    return (suffix, base) if suffix in RUN_SUFFIXES and base else ("0", iid)


def _paper_runs(
    instance_ids: list[str], keeps: list[object], reward_values: list[object]
) -> SimulatorSide:
    split = len(instance_ids) > SPLIT_RUNS_ABOVE
    grouped: dict[str, dict[str, int]] = {}
    for row, iid in enumerate(instance_ids):
        run, key = _paper_run(iid, split)
        grouped.setdefault(run, {})[key] = row  # a later entry replaces an earlier one
    # Runs in sorted label order; the kept entries only (a later unkept entry of a key
    # hides an earlier kept one, as in the reference's dicts).
    row_runs = [
        {k: v for k, v in grouped[run].items() if _truthy(keeps[v])} for run in sorted(grouped)
    ]
    ece: dict[int, dict[str, int]] = {}
    for row, iid in enumerate(instance_ids):
        if keeps[row] is False:
            continue
        match = _RUN_RE.match(iid)
        run_index = int(match.group(3)) if match else 1
        ece.setdefault(run_index, {})[task_key(iid)] = success(reward_values[row])
    return SimulatorSide(row_runs, ece, {})
