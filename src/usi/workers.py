"""How many worker processes a job gets: one rule for every pool usi starts.

Reading shards (:mod:`usi.inputs.shards`), scoring a report's simulators
(:mod:`usi.report.workers`) and running episodes (:mod:`usi.run.backends`) each start
processes; they all size them here, from the cores this process may actually run on (its CPU
affinity, which containers and ``taskset`` narrow, where ``os.cpu_count()`` would count the
whole machine) and only when there is enough work to pay for starting them.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(jobs: int, *, pays_from: int = 2, cap: int | None = None) -> int:
    """Processes for ``jobs`` independent units of work: one per usable core, never more than
    ``jobs`` or ``cap``, and 1 (work in this process) below ``pays_from`` units, where
    starting processes would cost more than it saves."""
    if jobs < pays_from:
        return 1
    return max(1, min(usable_cores(), jobs, cap if cap is not None else jobs))
