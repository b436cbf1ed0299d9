"""What the USI can and cannot see: a controlled-degradation study on real people.

A number that ranks simulators must move when a simulator gets less human and stay put when
it does not. Here the "simulator" is known: the people are split in two within each task,
one half is renamed a simulator (an exact sample of people), and each perturbation degrades
it step by step, at strength s = 0, 0.25, 0.5, 0.75, 1. Strengths are *nested*: every turn or
episode gets one uniform draw per split, and it is changed at strength s when its draw is
below s, so what s = 0.5 changes includes what s = 0.25 changed. Each degraded half is scored
against the other half by every definition set asked for.

Perturbations (on canonical :class:`usi.core.episode.Episode` objects, before any feature):

- ``politeness added`` (D1): " Thank you." appended to a user turn;
- ``register formalised`` (D1): informal tokens written out (u → you, pls → please, idk →
  I don't know, gonna → going to, …), "i" → "I", the first letter capitalised and a final
  full stop added;
- ``success forced`` (outcome): the episode's reward set to 1;
- ``survey inflated`` (evaluation): every survey answer set to the best option;
- ``questions removed`` (D3): the sentences ending in "?" deleted from a user turn (a turn
  left empty is dropped);
- ``collapsed to one template`` (D1): the user turn replaced by one fixed sentence;
- ``front-loaded`` (D2): all of an episode's user turns joined into its first (the
  "excessively cooperative" user who says everything at once).

Printed per perturbation and s: USI and every component, the mean over splits; whether USI
and the targeted component are monotone (non-increasing in s, in every split); which
untargeted components moved (|mean change| ≥ 0.005 from s = 0 to s = 1). Asserts nothing.

Definition sets are scored through ``DEFINITION_SCORERS``: name → callable(simulator
episodes, human episodes) → (USI, {component: value}). A set is one more entry.

    .venv/bin/python benchmarks/bench_validity.py [HUMAN_FILE] [--splits 5]
        [--definitions usi-v2] [--seed 0]

``HUMAN_FILE`` defaults to ``../shared/data/tau-usi-sample/tau_usi_sample.json`` beside the
repository; when it is absent the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from usi.core.episode import Episode, Message, is_user_content
from usi.core.survey import ITEMS_BY_ID

STRENGTHS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
MOVED = 0.005
"""A component counts as moved when its mean changes by at least this from s = 0 to s = 1."""
SIM_SOURCE = "synthetic-sim"

#: ``make bench`` runs every script without arguments: the real sample beside the repository.
SAMPLE = (
    Path(__file__).resolve().parents[1].parent / "shared/data/tau-usi-sample/tau_usi_sample.json"
)

Scores = tuple[float | None, dict[str, float | None]]
Scorer = Callable[[Sequence[Episode], Sequence[Episode]], Scores]


# -- scoring: one entry per definition set ---------------------------------------------------


def score_with(definitions: str, simulator: Sequence[Episode], human: Sequence[Episode]) -> Scores:
    """One definition set through the one scoring entry (:func:`usi.metrics.score.score`):
    the point estimate, no interval, no ceiling, no fidelity."""
    from usi.metrics import load_table
    from usi.metrics.models import COMPONENT_NAMES
    from usi.metrics.score import score

    result = score(
        {SIM_SOURCE: load_table(list(simulator), definitions=definitions)},
        load_table(list(human), definitions=definitions),
        definitions=definitions,
        ceiling=False,
        n_bootstrap=0,
        with_fidelity=False,
    ).results[0]
    return result.usi.value, {c: getattr(result.components, c) for c in COMPONENT_NAMES}


def score_usi_v2(simulator: Sequence[Episode], human: Sequence[Episode]) -> Scores:
    """usi-v2 (spec §2–§6)."""
    return score_with("usi-v2", simulator, human)


def score_tau_usi(simulator: Sequence[Episode], human: Sequence[Episode]) -> Scores:
    """tau-usi (spec §10): the paper's USI, mean over the human half's batches; 5 terms (the
    halves have no ratings, so Eval — and the simulator's own survey — is out)."""
    return score_with("tau-usi", simulator, human)


DEFINITION_SCORERS: dict[str, Scorer] = {"tau-usi": score_tau_usi, "usi-v2": score_usi_v2}
"""Definition set → scorer of (simulator episodes, human episodes)."""


# -- nested draws ------------------------------------------------------------------------------


def draw(seed: int, *key: object) -> float:
    """A uniform number in [0, 1) fixed by (seed, key): the same turn gets the same draw at
    every strength, which makes the strengths nested."""
    digest = hashlib.sha256(f"{seed}|{'|'.join(map(str, key))}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _user_indices(episode: Episode) -> list[int]:
    return [
        i for i, m in enumerate(episode.messages) if m.role == "user" and is_user_content(m.content)
    ]


def edit_turns(
    episodes: Sequence[Episode],
    s: float,
    seed: int,
    edit: Callable[[str], str | None],
) -> list[Episode]:
    """``edit`` applied to each user turn whose draw is below ``s``; None drops the turn."""
    out = []
    for ep in episodes:
        chosen = {i for i in _user_indices(ep) if draw(seed, ep.episode_id, i) < s}
        if not chosen:
            out.append(ep)
            continue
        messages: list[Message] = []
        for i, m in enumerate(ep.messages):
            if i not in chosen:
                messages.append(m)
                continue
            text = edit(m.content)
            if text is not None:
                messages.append(m.model_copy(update={"content": text}))
        out.append(ep.model_copy(update={"messages": messages}))
    return out


def edit_episodes(
    episodes: Sequence[Episode], s: float, seed: int, edit: Callable[[Episode], Episode]
) -> list[Episode]:
    """``edit`` applied to each episode whose draw is below ``s``."""
    return [edit(ep) if draw(seed, ep.episode_id) < s else ep for ep in episodes]


# -- the perturbations ----------------------------------------------------------------------------

INFORMAL: dict[str, str] = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thank you",
    "ty": "thank you",
    "idk": "I don't know",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "have to",
    "ya": "you",
    "yeah": "yes",
    "yep": "yes",
    "nope": "no",
    "btw": "by the way",
    "im": "I'm",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "didnt": "didn't",
    "i": "I",
}
"""Informal tokens and their written-out form (``register formalised``)."""

_TOKEN = re.compile(r"\b[\w']+\b")
_QUESTION = re.compile(r"[^.!?\n]*\?+")
TEMPLATE = "I would like help with my request."
POLITE_SUFFIX = " Thank you."


def formalise(text: str) -> str:
    """Informal tokens written out, the first letter capitalised, a final full stop."""
    text = _TOKEN.sub(lambda m: INFORMAL.get(m.group(0).lower(), m.group(0)), text.strip())
    if text and text[0].isalpha():
        text = text[0].upper() + text[1:]
    if text and text[-1].isalnum():
        text += "."
    return text


def without_questions(text: str) -> str | None:
    """The turn without its questions; None when nothing else is left."""
    rest = _QUESTION.sub("", text).strip()
    return rest if rest and any(ch.isalnum() for ch in rest) else None


def best_survey(episode: Episode) -> Episode:
    """Every survey answer set to its item's best option (the paper's goodness order)."""
    if not episode.survey:
        return episode
    answers = {}
    for item_id, answer in episode.survey.items():
        item = ITEMS_BY_ID.get(item_id)
        answers[item_id] = answer if item is None else item.options[int(np.argmax(item.goodness))]
    return episode.model_copy(update={"survey": answers})


def forced_success(episode: Episode) -> Episode:
    """The reward set to 1 (an episode without a reward keeps none)."""
    return episode if episode.reward is None else episode.model_copy(update={"reward": 1.0})


def front_loaded(episode: Episode) -> Episode:
    """All user turns joined into the first; the later user turns removed."""
    turns = _user_indices(episode)
    if len(turns) < 2:
        return episode
    joined = " ".join(episode.messages[i].content.strip() for i in turns)
    messages = []
    for i, m in enumerate(episode.messages):
        if i == turns[0]:
            messages.append(m.model_copy(update={"content": joined}))
        elif i not in turns:
            messages.append(m)
    return episode.model_copy(update={"messages": messages})


Perturb = Callable[[Sequence[Episode], float, int], list[Episode]]


@dataclass(frozen=True)
class Perturbation:
    name: str
    target: str
    apply: Perturb


PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation(
        "politeness added", "D1", lambda e, s, k: edit_turns(e, s, k, lambda t: t + POLITE_SUFFIX)
    ),
    Perturbation("register formalised", "D1", lambda e, s, k: edit_turns(e, s, k, formalise)),
    Perturbation(
        "success forced", "outcome", lambda e, s, k: edit_episodes(e, s, k, forced_success)
    ),
    Perturbation(
        "survey inflated", "evaluation", lambda e, s, k: edit_episodes(e, s, k, best_survey)
    ),
    Perturbation("questions removed", "D3", lambda e, s, k: edit_turns(e, s, k, without_questions)),
    Perturbation(
        "collapsed to one template", "D1", lambda e, s, k: edit_turns(e, s, k, lambda _: TEMPLATE)
    ),
    Perturbation("front-loaded", "D2", lambda e, s, k: edit_episodes(e, s, k, front_loaded)),
)


# -- the study -----------------------------------------------------------------------------------


def split_people(people: Sequence[Episode], seed: int) -> tuple[list[Episode], list[Episode]]:
    """Two halves within tasks: each task's sessions shuffled (seeded) and alternated; tasks
    with one session (and unaligned ones) alternate over tasks. The first half becomes the
    simulator (source renamed)."""
    rng = np.random.default_rng(seed)
    by_task: dict[str, list[Episode]] = {}
    for ep in people:
        key = f"{ep.domain}/{ep.task_id}" if ep.task_id is not None else f"ep:{ep.episode_id}"
        by_task.setdefault(key, []).append(ep)
    sim: list[Episode] = []
    hum: list[Episode] = []
    single = 0
    for key in sorted(by_task):
        group = sorted(by_task[key], key=lambda e: e.episode_id)
        order = rng.permutation(len(group))
        if len(group) == 1:
            (sim if (single + seed) % 2 == 0 else hum).append(group[0])
            single += 1
            continue
        for rank, j in enumerate(order):
            (sim if rank % 2 == 0 else hum).append(group[j])
    return [e.model_copy(update={"source": SIM_SOURCE}) for e in sim], hum


def monotone(values: Sequence[float | None]) -> bool:
    """Non-increasing in s (within 1e-9), ignoring strengths where the value is undefined."""
    kept = [v for v in values if v is not None]
    return all(b <= a + 1e-9 for a, b in pairwise(kept))


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def study(
    people: Sequence[Episode], scorer: Scorer, n_splits: int, seed: int
) -> dict[str, list[list[Scores]]]:
    """Per perturbation: per split, the scores at each strength."""
    splits = [split_people(people, seed + k) for k in range(n_splits)]
    out: dict[str, list[list[Scores]]] = {}
    for p in PERTURBATIONS:
        out[p.name] = [
            [scorer(p.apply(sim, s, seed + k), hum) for s in STRENGTHS]
            for k, (sim, hum) in enumerate(splits)
        ]
    return out


def report(name: str, results: dict[str, list[list[Scores]]]) -> None:
    """The table of one definition set, then one line of sensitivity per perturbation."""
    components = list(next(iter(results.values()))[0][0][1])
    header = f"{'perturbation':<28}{'s':>5}{'USI':>7}" + "".join(f"{c:>11}" for c in components)
    print(f"\n== {name}: mean over splits\n{header}\n" + "-" * len(header))
    summary = []
    for p in PERTURBATIONS:
        per_split = results[p.name]
        usi = [_mean([split[i][0] for split in per_split]) for i in range(len(STRENGTHS))]
        comp = {
            c: [_mean([split[i][1][c] for split in per_split]) for i in range(len(STRENGTHS))]
            for c in components
        }
        for i, s in enumerate(STRENGTHS):
            label = p.name if i == 0 else ""
            cells = "".join(f"{_fmt(comp[c][i], 3):>11}" for c in components)
            print(f"{label:<28}{s:>5.2f}{_fmt(usi[i], 1):>7}{cells}")
        usi_ok = sum(monotone([split[i][0] for i in range(len(STRENGTHS))]) for split in per_split)
        target_ok = sum(
            monotone([split[i][1][p.target] for i in range(len(STRENGTHS))]) for split in per_split
        )
        moved = [
            f"{c} {comp[c][-1] - comp[c][0]:+.3f}"  # type: ignore[operator]
            for c in components
            if c != p.target
            and comp[c][0] is not None
            and comp[c][-1] is not None
            and abs(comp[c][-1] - comp[c][0]) >= MOVED  # type: ignore[operator]
        ]
        change = None if usi[0] is None or usi[-1] is None else usi[-1] - usi[0]
        n = len(per_split)
        summary.append(
            f"{p.name:<28}USI {'n/a' if change is None else f'{change:+.1f}'} at s=1; "
            f"monotone: USI {usi_ok}/{n} splits, "
            f"{p.target} {target_ok}/{n}; untargeted moved: {', '.join(moved) or 'none'}"
        )
    print("\nsensitivity (USI change from s=0 to s=1) and monotonicity (non-increasing in s):")
    for line in summary:
        print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("human_file", type=Path, nargs="?", default=SAMPLE)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--definitions",
        default=",".join(DEFINITION_SCORERS),
        help=f"comma-separated, of: {', '.join(DEFINITION_SCORERS)}",
    )
    args = parser.parse_args()
    if not args.human_file.exists():
        print(f"bench_validity: {args.human_file} is absent: nothing to measure (give HUMAN_FILE)")
        return
    names = [n.strip() for n in args.definitions.split(",") if n.strip()]
    unknown = [n for n in names if n not in DEFINITION_SCORERS]
    if unknown:
        print(
            f"bench_validity: unknown definitions {', '.join(unknown)} "
            f"(known: {', '.join(DEFINITION_SCORERS)})",
            file=sys.stderr,
        )
        raise SystemExit(2)
    from usi.data.readers import iter_episodes

    people = [
        e for e in iter_episodes(args.human_file) if e.is_human and not e.infrastructure_error
    ]
    print(
        f"{len(people)} human sessions from {args.human_file.name}; {args.splits} splits in two "
        f"within tasks (seed {args.seed}); strengths {', '.join(map(str, STRENGTHS))}, nested"
    )
    for name in names:
        start = time.perf_counter()
        report(name, study(people, DEFINITION_SCORERS[name], args.splits, args.seed))
        print(f"({name}: {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
