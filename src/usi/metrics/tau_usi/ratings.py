"""Ratings for the Eval term: a file in the paper's format, or ``usi judge`` output."""

from __future__ import annotations

from pathlib import Path

from usi.core.decode import load_json
from usi.data.paper import tau_key
from usi.data.paper_results import is_ratings_document, read_ratings
from usi.errors import UsiInputError
from usi.metrics.tau_usi.evaluation import Ratings


def load_ratings(path: Path) -> Ratings:
    """(human batch, task key) → answers, from the paper's ``survey_comparable_*.json`` or
    from the human episodes ``usi judge --model M HUMAN`` wrote (``metadata.judge_survey``)."""
    from usi.data.readers import iter_episodes

    if path.suffix == ".json":
        document = load_json(path)
        if is_ratings_document(document):
            return read_ratings(path, document)
    ratings: dict[tuple[int, str], dict[str, object]] = {}
    for episode in iter_episodes(path):
        answers = episode.metadata.get("judge_survey")
        key = tau_key(episode)
        if episode.is_human and isinstance(answers, dict) and key is not None:
            ratings[(episode.batch or 1, key)] = dict(answers)
    if not ratings:
        raise UsiInputError(
            'no ratings: expected the paper\'s ratings JSON ({HUMAN_ID: {"survey": …}}) or '
            "human episodes rated by `usi judge` (metadata.judge_survey)",
            path,
            "--ratings",
        )
    return ratings
