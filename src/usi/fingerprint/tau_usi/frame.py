"""Episodes → the per-episode columns the paper's scorer needs (definitions ``tau-usi``).

Beside the shared meta/survey columns (:func:`usi.inputs.frame.episode_frame`) each row gets
what §10.1 keys on — the tau-usi task key ``{domain}_{index}``, the paper's instance id when
the episode came from one of the paper's files, the trial of a usi run, the ``keep`` flag as
given (``None`` is not ``True`` in the reference) — and the 20 features of §10.3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from usi.core.episode import Episode
from usi.data.paper import INSTANCE_KEY, episode_turns, tau_key
from usi.fingerprint.tau_usi.features import FEATURES, conversation_features

KEY_COLUMNS: tuple[str, ...] = (
    "tau_key",
    "instance_id",
    "trial",
    "keep",
    "has_features",
    "protocol",
    "agent_model",
)


_NO_FEATURES = [np.nan] * len(FEATURES)


def _keep(episode: Episode) -> object:
    keep = episode.metadata.get("keep", True)
    return keep if keep is None or isinstance(keep, bool) else bool(keep)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def feature_frame(episodes: Sequence[Episode]) -> pd.DataFrame:
    """One row per episode: the key columns, then the 20 features (NaN: no user turn)."""
    keys: list[list[object]] = []
    values: list[float] = []
    for ep in episodes:
        turns, n_turns = episode_turns(ep)
        features = conversation_features(turns, n_turns)
        trial = ep.metadata.get("trial")
        keys.append(
            [
                tau_key(ep),
                ep.metadata.get(INSTANCE_KEY),
                trial if isinstance(trial, int) and not isinstance(trial, bool) else None,
                _keep(ep),
                features is not None,
                _text(ep.metadata.get("protocol")),
                _text(ep.metadata.get("agent_model")),
            ]
        )
        values.extend(_NO_FEATURES if features is None else map(features.__getitem__, FEATURES))
    # The key columns are typed one by one from their values (as pandas does for rows); the
    # features go in as one float64 block (column by column they took a third of this time).
    frame = pd.DataFrame(keys, columns=list(KEY_COLUMNS))
    frame["has_features"] = frame["has_features"].astype(bool)
    features_block = np.array(values, dtype=np.float64).reshape(len(keys), len(FEATURES))
    return pd.concat(
        [frame, pd.DataFrame(features_block, columns=list(FEATURES), index=frame.index)], axis=1
    )
