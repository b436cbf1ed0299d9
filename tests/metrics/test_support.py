"""Hand-made feature tables for the metrics tests (and a check that they are well formed).

Metrics read the table ``usi.metrics.load_table`` builds; these helpers build the same
columns directly so each test states exactly the numbers it is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from usi.core.survey import SURVEY_ITEM_IDS
from usi.fingerprint.features import FEATURES
from usi.inputs.frame import JUDGE_COLUMNS, META_COLUMNS, SURVEY_COLUMNS

COLUMNS = [*META_COLUMNS, *SURVEY_COLUMNS, *JUDGE_COLUMNS, *FEATURES]


def make_table(records: Sequence[Mapping[str, Any]], source: str = "sim") -> pd.DataFrame:
    """Rows from dicts; survey/judge answers as ``{"survey": {dim: score}}``, features 0."""
    rows = []
    for i, record in enumerate(records):
        row: dict[str, Any] = dict.fromkeys(COLUMNS, np.nan)
        row.update({f: 0.0 for f in FEATURES})
        row.update(
            episode_id=f"{record.get('source', source)}-{i}",
            source=source,
            batch=None,
            domain="retail",
            task_id=None,
            n_user_turns=3,
        )
        for key, value in record.items():
            if key == "survey":
                row.update({f"survey_{d}": v for d, v in value.items()})
            elif key == "judge":
                row.update({f"judge_{d}": v for d, v in value.items()})
            else:
                row[key] = value
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["batch"] = frame["batch"].astype("Int64")
    for col in ("reward", *SURVEY_COLUMNS, *JUDGE_COLUMNS, *FEATURES):
        frame[col] = frame[col].astype("float64")
    return frame


def random_table(
    seed: int,
    source: str,
    n_tasks: int = 12,
    per_task: int = 3,
    batch: int | None = None,
    shift: float = 0.0,
    success: float = 0.6,
    with_survey: bool = True,
) -> pd.DataFrame:
    """A plausible table: rates in [0, 1], counts ≥ 0, rewards, survey scores on the grid.

    ``shift`` moves every feature's distribution up (a simulator unlike the humans).
    """
    rng = np.random.default_rng(seed)
    records = []
    for t in range(n_tasks):
        for _ in range(per_task):
            record: dict[str, Any] = {"task_id": str(t), "batch": batch}
            for f in FEATURES:
                scale = 20.0 if f in ("words_per_turn", "opening_length") else 1.0
                record[f] = float(np.clip(rng.beta(2, 5) + shift, 0, None) * scale)
            record["reward"] = float(rng.random() < success)
            if with_survey:
                record["survey"] = {d: float(rng.integers(0, 5)) / 4 for d in SURVEY_ITEM_IDS}
            records.append(record)
    table = make_table(records, source=source)
    table["episode_id"] = [f"{source}-{batch}-{i}" for i in range(len(table))]
    return table


def test_make_table_has_the_load_table_columns() -> None:
    table = make_table([{"task_id": "1", "words_per_turn": 4.0, "survey": {"reuse": 0.5}}])
    assert list(table.columns) == COLUMNS
    assert table.at[0, "words_per_turn"] == 4.0
    assert table.at[0, "survey_reuse"] == 0.5
    assert np.isnan(table.at[0, "survey_efficiency"])


def test_random_table_is_reproducible_and_shifted() -> None:
    a, b = random_table(1, "x"), random_table(1, "x")
    pd.testing.assert_frame_equal(a, b)
    shifted = random_table(1, "x", shift=1.0)
    assert (shifted["politeness_rate"] > a["politeness_rate"]).all()
