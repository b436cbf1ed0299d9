"""Distribution-level fidelity, reported beside USI and never inside it.

USI compares means. A simulator can match every mean and still be a caricature: all its
episodes alike (low dispersion), or covering only part of the space people occupy. These
three numbers look at the whole fingerprint cloud instead:

- dispersion ratio per feature: simulator std / human std (1 = same spread);
- coverage: how close each episode is to its nearest episode on the other side, both ways;
- discriminator AUC: can a classifier tell a person from the simulator? (0.5 = no).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from usi.fingerprint.features import FEATURES
from usi.metrics.models import Coverage, Fidelity

FloatArray = npt.NDArray[np.float64]

DEFAULT_SEED = 0

MAX_PAIRWISE_POINTS = 2000
"""Above this many humans the mean pairwise distance is taken on a seeded subsample
(2000 points = 2 million pairs: the mean is stable to well under 1%)."""

MAX_NEIGHBOUR_POINTS = 10_000
"""Each cloud is subsampled (seeded) to this many points for the nearest-neighbour search,
which keeps coverage at 20k episodes per side to a second or two."""

MAX_DISCRIMINATOR_POINTS = 5000
"""Each side is subsampled (seeded) to this many episodes for the classifier: the AUC's
standard error is then about 0.005, and 20k-episode corpora cost no more than 5k ones."""

DISCRIMINATOR_FOLDS = 5
MIN_EPISODES_PER_CLASS = 2
"""Cross-validation needs at least this many episodes of each kind."""


def dispersion_ratio(simulator: pd.DataFrame, human: pd.DataFrame) -> dict[str, float | None]:
    """Simulator std / human std per feature (sample std).

    0/0 is 1.0: both sides constant is the same (lack of) spread. x/0 with x > 0 is None:
    the humans never vary, so no ratio says how much more the simulator does.
    """
    out: dict[str, float | None] = {}
    for feature in FEATURES:
        s = float(simulator[feature].std(ddof=1))
        h = float(human[feature].std(ddof=1))
        if np.isnan(s) or np.isnan(h):
            out[feature] = None
        elif h == 0.0:
            out[feature] = 1.0 if s == 0.0 else None
        else:
            out[feature] = s / h
    return out


def _subsample(points: FloatArray, limit: int, rng: np.random.Generator) -> FloatArray:
    if len(points) <= limit:
        return points
    return points[np.sort(rng.choice(len(points), size=limit, replace=False))]


def standardized_clouds(
    simulator: pd.DataFrame, human: pd.DataFrame
) -> tuple[FloatArray, FloatArray]:
    """Both fingerprint clouds in human z-units; a NaN feature sits at the human mean."""
    hum = human[list(FEATURES)].to_numpy(dtype=np.float64)
    sim = simulator[list(FEATURES)].to_numpy(dtype=np.float64)
    mean = np.nan_to_num(np.nanmean(hum, axis=0)) if len(hum) else np.zeros(len(FEATURES))
    std = np.nanstd(hum, axis=0) if len(hum) else np.ones(len(FEATURES))
    std = np.where(np.isnan(std) | (std == 0.0), 1.0, std)
    return (
        np.nan_to_num((sim - mean) / std),
        np.nan_to_num((hum - mean) / std),
    )


def coverage_distance(
    simulator_points: FloatArray, human_points: FloatArray, seed: int = DEFAULT_SEED
) -> tuple[float, float]:
    """(two-sided mean nearest-neighbour distance, humans' mean pairwise distance)."""
    # scikit-learn and scipy.spatial load here, not with the module: importing them is ~1.7 s
    # of every ``usi score``, and only usi-v2's fidelity (not the paper's USI) uses them.
    from scipy.spatial.distance import pdist
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    sim = _subsample(simulator_points, MAX_NEIGHBOUR_POINTS, rng)
    hum = _subsample(human_points, MAX_NEIGHBOUR_POINTS, rng)
    to_human = NearestNeighbors(n_neighbors=1).fit(hum).kneighbors(sim)[0].mean()
    to_sim = NearestNeighbors(n_neighbors=1).fit(sim).kneighbors(hum)[0].mean()
    pairwise = float(pdist(_subsample(human_points, MAX_PAIRWISE_POINTS, rng)).mean())
    return float((to_human + to_sim) / 2.0), pairwise


def coverage_score(distance: float, human_pairwise: float) -> float:
    """exp(−d / d_h): 1 for coinciding clouds, e⁻¹ ≈ 0.37 when the nearest episode of the
    other side is as far as a random pair of people, towards 0 beyond.

    A linear ``1 − d/d_h`` clipped at 0 was tried first: it saturates, so every simulator
    that is not close to people scored exactly 0 and the leaderboard column could no
    longer rank them. The exponential keeps the ordering at every distance.
    Humans all identical (d_h = 0): 1 if d = 0, else 0."""
    if human_pairwise == 0.0:
        return 1.0 if distance == 0.0 else 0.0
    return float(np.exp(-distance / human_pairwise))


def human_coverage_reference(
    human_halves: tuple[pd.DataFrame, pd.DataFrame], seed: int = DEFAULT_SEED
) -> float | None:
    """Coverage of one half of the humans by the other: what real people reach.

    Nearest neighbours are farther in a smaller cloud, so this is a slightly pessimistic
    reference for a simulator scored against all the humans.
    """
    first, second = human_halves
    if min(len(first), len(second)) < 2:
        return None
    second_points, first_points = standardized_clouds(second, first)
    distance, pairwise = coverage_distance(second_points, first_points, seed)
    return coverage_score(distance, pairwise)


def coverage(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    human_reference: float | None = None,
    seed: int = DEFAULT_SEED,
) -> Coverage:
    """Coverage of the human cloud by the simulator's; ``human_reference`` is passed through
    (from :func:`human_coverage_reference`, computed once per human set)."""
    if len(simulator) == 0 or len(human) < 2:
        return Coverage(
            score=None, distance=None, human_pairwise_distance=None, human_reference=None
        )
    sim_points, hum_points = standardized_clouds(simulator, human)
    distance, pairwise = coverage_distance(sim_points, hum_points, seed)
    return Coverage(
        score=coverage_score(distance, pairwise),
        distance=distance,
        human_pairwise_distance=pairwise,
        human_reference=human_reference,
    )


Split = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]


def _twin_free_folds(x: FloatArray, y: npt.NDArray[np.int64], seed: int) -> list[Split] | None:
    """Stratified folds in which identical rows always share a fold; None if impossible.

    Each distinct fingerprint is a group; groups are stratified by what they hold (only
    humans, only simulator, both), shuffled (seeded) within each stratum and dealt
    round-robin. sklearn's StratifiedGroupKFold does this with a Python loop per group:
    seconds at 20k all-distinct episodes; this is vectorized.
    """
    groups = np.unique(x, axis=0, return_inverse=True)[1].ravel()
    sims = np.bincount(groups, weights=y)
    sizes = np.bincount(groups)
    stratum = np.where(sims == 0, 0, np.where(sims == sizes, 1, 2))
    n_splits = min(DISCRIMINATOR_FOLDS, int((stratum != 0).sum()), int((stratum != 1).sum()))
    if n_splits < MIN_EPISODES_PER_CLASS:
        return None
    rng = np.random.default_rng(seed)
    dealt = np.concatenate([rng.permutation(np.flatnonzero(stratum == k)) for k in (2, 1, 0)])
    fold_of_group = np.empty(len(sizes), dtype=np.intp)
    fold_of_group[dealt] = np.arange(len(dealt)) % n_splits
    fold = fold_of_group[groups]
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_splits)]
    if any(np.unique(y[train]).size < 2 for train, _ in splits):
        return None
    return splits


def discriminator_auc(
    simulator: pd.DataFrame, human: pd.DataFrame, seed: int = DEFAULT_SEED
) -> float | None:
    """Out-of-fold ROC AUC of logistic regression telling simulator (1) from human (0).

    Standardization is fitted inside each fold (a pipeline); folds are stratified, seeded,
    and keep identical fingerprints together: otherwise a held-out episode's exact twin
    with the other label sits in the training fold and pushes the AUC *below* 0.5 when the
    two clouds are the same (short episodes often share an all-zero fingerprint). None when
    either side has too few episodes to cross-validate.
    """
    if min(len(simulator), len(human)) < MIN_EPISODES_PER_CLASS:
        return None
    from sklearn.linear_model import LogisticRegression  # loads on use: see coverage_distance
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sim_points, hum_points = standardized_clouds(simulator, human)
    rng = np.random.default_rng(seed)
    sim_points = _subsample(sim_points, MAX_DISCRIMINATOR_POINTS, rng)
    hum_points = _subsample(hum_points, MAX_DISCRIMINATOR_POINTS, rng)
    n_sim, n_hum = len(sim_points), len(hum_points)
    x = np.vstack([sim_points, hum_points])
    y = np.concatenate([np.ones(n_sim, dtype=np.int64), np.zeros(n_hum, dtype=np.int64)])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    splits = _twin_free_folds(x, y, seed)
    if splits is None:
        # One side is a single fingerprint repeated: no twin across labels to leak.
        plain = StratifiedKFold(
            n_splits=min(DISCRIMINATOR_FOLDS, n_sim, n_hum), shuffle=True, random_state=seed
        )
        splits = list(plain.split(x, y))
    proba = cross_val_predict(model, x, y, cv=splits, method="predict_proba")
    return float(roc_auc_score(y, proba[:, 1]))


def measure_fidelity(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    human_reference: float | None = None,
    seed: int = DEFAULT_SEED,
) -> Fidelity:
    """Dispersion, coverage and discriminator AUC of a simulator against the humans."""
    return Fidelity(
        dispersion=dispersion_ratio(simulator, human),
        coverage=coverage(simulator, human, human_reference, seed),
        discriminator_auc=discriminator_auc(simulator, human, seed),
    )
