"""Synthetic episode sets with known gaps, for the report's tests and benchmark.

Real study data cannot ship with the project, yet the report must be exercised end to end
on conversations (fingerprints are computed from text). These generators script users
whose style, success and ratings are controlled by a few knobs, so a test can assert that
a known gap (say, a simulator that is polite in most turns) shows up in the report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from usi.core.episode import Episode, Message
from usi.core.survey import SURVEY_ITEMS
from usi.data.io import write_episodes

_OPENINGS = (
    "hi i need to change my order",
    "I want to return something I bought",
    "my flight got moved and I need a new one",
    "can you help me cancel a reservation",
    "I'd like to exchange an item for a different size",
)
_DETAILS = (
    "the order is #W{num}",
    "my user id is {name}_{num4}",
    "it's the blue one, not the red one",
    "I think it was last tuesday maybe",
    "the reservation code is {code}",
    "I want it delivered to the same address",
)
_SHORT = ("ok", "yes", "sure", "no", "yeah go ahead", "fine")
_POLITE = ("please", "thank you", "thanks a lot")
_FORMAL = ("; moreover, I would like a confirmation", ", however, the earlier one is fine")
_UPSET = ("this is ridiculous", "ugh come on", "that's not right")


@dataclass(frozen=True)
class UserStyle:
    """How a scripted user talks, succeeds and rates the agent."""

    short: float = 0.3
    polite: float = 0.15
    formal: float = 0.05
    upset: float = 0.1
    turns: tuple[int, int] = (3, 8)
    #: Added to each task's base success probability (positive = "easy mode").
    success_boost: float = 0.0
    #: Added to every survey answer's position, then clipped (positive = lenient rater).
    leniency: float = 0.0
    #: Probability of answering the survey at all.
    answers_survey: float = 1.0


HUMAN_STYLE = UserStyle()


def _turn(rng: random.Random, style: UserStyle) -> str:
    if rng.random() < style.short:
        text = rng.choice(_SHORT)
    else:
        text = rng.choice(_DETAILS).format(
            num=rng.randint(1_000_000, 9_999_999),
            num4=rng.randint(1000, 9999),
            name=rng.choice(("mia_li", "yusuf_rossi", "ava_lee")),
            code="".join(rng.choice("ABCDEFGHJKLMNP23456789") for _ in range(6)),
        )
        if rng.random() < style.formal:
            text += rng.choice(_FORMAL)
    if rng.random() < style.polite:
        text += " " + rng.choice(_POLITE)
    if rng.random() < style.upset:
        text += ". " + rng.choice(_UPSET)
    return text


def _survey(rng: random.Random, style: UserStyle, success: bool, bias: float) -> dict[str, str]:
    answers: dict[str, str] = {}
    for item in SURVEY_ITEMS:
        k = len(item.options)
        centre = (0.65 if success else 0.45) * (k - 1) + (style.leniency + bias) * (k - 1)
        position = round(rng.gauss(centre, 0.8))
        # Leniency moves answers up the goodness scale (spec §5), not along the form.
        ranked = sorted(item.options, key=item.ordinal)
        answers[item.id] = ranked[max(0, min(k - 1, position))]
    return answers


def generate(
    source: str,
    n_episodes: int,
    seed: int,
    style: UserStyle = HUMAN_STYLE,
    n_tasks: int = 40,
    n_batches: int | None = None,
    with_judge: bool = False,
) -> list[Episode]:
    """``n_episodes`` scripted episodes of ``source`` over ``n_tasks`` retail tasks."""
    rng = random.Random(f"{source}:{seed}")
    task_rng = random.Random(seed)  # shared across sources: the same tasks are equally hard
    base = [task_rng.uniform(0.2, 0.8) for _ in range(n_tasks)]
    episodes = []
    for index in range(n_episodes):
        task = index % n_tasks
        turns = [rng.choice(_OPENINGS)] + [
            _turn(rng, style) for _ in range(rng.randint(*style.turns) - 1)
        ]
        messages = [Message(role="assistant", content="Hello, how can I help you today?")]
        for turn in turns:
            messages.append(Message(role="user", content=turn))
            messages.append(Message(role="assistant", content="Let me look into that."))
        success = rng.random() < min(1.0, max(0.0, base[task] + style.success_boost))
        survey = _survey(rng, style, success, 0.0) if rng.random() < style.answers_survey else None
        metadata: dict[str, object] = {}
        if with_judge and survey is not None:
            metadata["judge_survey"] = _survey(rng, style, success, 0.1)
        episodes.append(
            Episode(
                episode_id=f"{source}-{seed}-{index}",
                source=source,
                # Every batch sweeps over all tasks, as the study's batches did.
                batch=(index // n_tasks) % n_batches + 1 if n_batches else None,
                domain="retail",
                task_id=str(task),
                messages=messages,
                reward=1.0 if success else 0.0,
                survey=survey,
                metadata=metadata,
            )
        )
    return episodes


def write_corpus(path: str | Path, episodes: list[Episode]) -> Path:
    """Write ``episodes`` as canonical JSON Lines and return the path."""
    write_episodes(path, episodes)
    return Path(path)


#: Simulator styles with known gaps from people, LLM-like to human-like.
SIM_STYLES: dict[str, UserStyle] = {
    "polite-llm": UserStyle(
        short=0.02,
        polite=0.6,
        formal=0.4,
        upset=0.0,
        success_boost=0.25,
        leniency=0.25,
        turns=(4, 9),
    ),
    "persona": UserStyle(
        short=0.15, polite=0.3, formal=0.15, upset=0.05, success_boost=0.1, leniency=0.1
    ),
    "mimic": UserStyle(short=0.28, polite=0.17, formal=0.06, upset=0.09, success_boost=0.02),
}
