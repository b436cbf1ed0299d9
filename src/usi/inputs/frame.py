"""The per-episode table of everything except the fingerprint: who, which task, outcome, survey.

Metrics work on tables, not on conversations: once an episode is reduced to one row the
conversation can be dropped, which is what keeps scoring memory flat in the corpus size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from usi.core.episode import Episode
from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS

TABLE_DEFINITIONS = "usi-v2"
"""The table's feature set when none is named (the scoring CLI names one explicitly)."""

ERROR_COLUMN = "error"
"""Why the run failed (:attr:`Episode.infrastructure_error`), None when it ran."""
META_COLUMNS: tuple[str, ...] = (
    "episode_id",
    "source",
    "batch",
    "domain",
    "task_id",
    "reward",
    "n_user_turns",
    ERROR_COLUMN,
)
SURVEY_COLUMNS: tuple[str, ...] = tuple(f"survey_{i}" for i in SURVEY_ITEM_IDS)
JUDGE_COLUMNS: tuple[str, ...] = tuple(f"judge_{i}" for i in SURVEY_ITEM_IDS)


def _scores(answers: object) -> list[float]:
    if not isinstance(answers, dict):
        return [np.nan] * len(SURVEY_ITEM_IDS)
    out: list[float] = []
    for item_id in SURVEY_ITEM_IDS:
        label = answers.get(item_id)
        item = ITEMS_BY_ID[item_id]
        out.append(
            item.position(label) if isinstance(label, str) and label in item.options else np.nan
        )
    return out


def episode_frame(episodes: Sequence[Episode]) -> pd.DataFrame:
    """One row per episode: meta columns, survey and judge answers (NaN if absent).

    An answer is stored as its position on the form, i/(k-1) (:meth:`SurveyItem.position`):
    the table records what was ticked; scoring maps it to goodness
    (:func:`usi.core.survey.goodness_matrix`).

    ``error`` is :attr:`Episode.infrastructure_error` (None for a conversation that ran), so
    the rules of :mod:`usi.inputs.sides` can leave failed runs out of the table.

    ``judge_*`` come from ``metadata["judge_survey"]``: a model's answers to the same survey
    about the same conversation (``usi judge``), kept beside the participant's own.
    """
    rows = []
    for ep in episodes:
        rows.append(
            [
                ep.episode_id,
                ep.source,
                ep.batch,
                ep.domain,
                ep.task_id,
                np.nan if ep.reward is None else float(ep.reward),
                len(ep.user_turns()),
                ep.infrastructure_error,
                *_scores(ep.survey),
                *_scores(ep.metadata.get("judge_survey")),
            ]
        )
    frame = pd.DataFrame(rows, columns=[*META_COLUMNS, *SURVEY_COLUMNS, *JUDGE_COLUMNS])
    frame["batch"] = frame["batch"].astype("Int64")
    frame["n_user_turns"] = frame["n_user_turns"].astype("int64")
    for col in ("reward", *SURVEY_COLUMNS, *JUDGE_COLUMNS):
        frame[col] = frame[col].astype("float64")
    return frame


def batches(episodes: Iterable[Episode], size: int) -> Iterator[list[Episode]]:
    """The episodes in lists of ``size``, so at most one list of conversations is in memory."""
    iterator = iter(episodes)
    while chunk := list(islice(iterator, size)):
        yield chunk


def rows_of(
    episodes: Iterable[Episode],
    chunk_size: int,
    definitions: str = TABLE_DEFINITIONS,
    per_episode: Callable[[Episode], Any] | None = None,
    also: tuple[str, ...] = (),
) -> Iterator[tuple[pd.DataFrame, list[Any], dict[str, pd.DataFrame]]]:
    """Table rows chunk by chunk, with what ``per_episode`` gives for each of them (an empty
    list without it) and the rows of each other definition set of ``also`` (the same meta
    columns, that set's features); each chunk's conversations are dropped once reduced.

    The one table builder's step, in one process or in a reading worker. The feature columns
    are those of the ``definitions`` set (:mod:`usi.fingerprint.definitions`).
    """
    from usi.fingerprint.definitions import get_definitions

    frame = get_definitions(definitions).feature_frame
    others = {name: get_definitions(name).feature_frame for name in also}
    for chunk in batches(episodes, chunk_size):
        meta = episode_frame(chunk)
        rows = pd.concat([meta, frame(chunk).reset_index(drop=True)], axis=1)
        more = {
            name: pd.concat([meta, other(chunk).reset_index(drop=True)], axis=1)
            for name, other in others.items()
        }
        yield rows, [per_episode(e) for e in chunk] if per_episode is not None else [], more


def empty_rows(definitions: str = TABLE_DEFINITIONS) -> pd.DataFrame:
    """The table with no row: an input whose every episode the rules left out."""
    from usi.fingerprint.definitions import get_definitions

    features = get_definitions(definitions).feature_frame([])
    return pd.concat([episode_frame([]), features.reset_index(drop=True)], axis=1)
