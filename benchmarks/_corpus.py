"""A synthetic episode corpus for benchmarks: large, deterministic, and fast to write.

Why synthetic: benchmarks need tens of thousands of episodes with the statistical shape of the
study (people in batches 1..3 who type short, informal turns; simulators who write long, polite,
formal ones), and the real data is neither that large nor ours to copy. Every text is assembled
from phrase banks that hit all 19 features' cue families, so a benchmark exercises every code
path of the fingerprint, not only the cheap ones.

Lines are written as canonical JSON directly (not through pydantic) so that 20,000 episodes take
a few seconds; ``usi.data.read_canonical`` validates them like any other file.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from usi.core.survey import SURVEY_ITEMS
from usi.tau.tasks import DOMAINS  # the one domain list

HUMAN_BATCHES = (1, 2, 3)
#: Simulator sources and how strongly each leans toward the "LLM register" (long, polite, formal).
SIMULATORS: dict[str, float] = {"sim-gpt-4o": 0.9, "sim-deepseek-v3.1": 0.6}
#: Share of episodes written by people (spread over the three batches).
HUMAN_SHARE = 0.55
N_TASKS = 50
MIN_USER_TURNS, MAX_USER_TURNS = 8, 14

_FIRST = ("mia", "olivia", "omar", "sofia", "ivan", "aarav", "yusuf", "emma", "raj", "lei")
_LAST = ("li", "gonzalez", "davis", "kim", "muller", "garcia", "rossi", "silva", "patel", "wang")
_CITIES = ("New York", "Seattle", "Newark", "Houston", "Boston", "Denver", "Chicago", "Miami")
_ITEMS = ("laptop", "desk lamp", "hiking boots", "water bottle", "office chair", "headphones")

# Phrase banks. "{…}" slots are filled per episode (ids, cities, items).
_HUMAN_OPENINGS = (
    "hi i need to change my flight from {city} to {city2}",
    "Hello, I want to return the {item} I ordered, it's broken",
    "I need to cancel order {order} pls",
    "hey, can you check the status of my order {order}",
    "Hi! I'd like to book a one-way flight from {city} to {city2} on may 20th",
    "my {item} never arrived and I'm kind of annoyed",
    "I want to exchange my {item} for a different color",
    "need help with reservation {code}",
)
_HUMAN_TURNS = (
    "yes",
    "ok",
    "ok go ahead",
    "A",
    "no",
    "sure",
    "yep",
    "thanks",
    "thx",
    "my user id is {user}",
    "{user}",
    "its {email}",
    "the order number is {order}",
    "reservation {code}",
    "card ending 7447",
    "use my gift card {digits}",
    "i dont know the order id",
    "idk, maybe the cheaper one?",
    "hmm not sure",
    "what do you mean?",
    "what?",
    "which one is cheaper",
    "can you check if there is a later flight",
    "how do i get a refund",
    "any update?",
    "why is it so expensive",
    "that's not right, I said economy",
    "I already told you my zip is 10001",
    "are you sure?",
    "ugh this is frustrating",
    "seriously? come on",
    "forget it",
    "this is useless",
    "terrible service honestly",
    "actually, make it the {item} instead",
    "in that case lets try the other card",
    "how about friday",
    "definitely the first one",
    "yes for sure",
    "please cancel it",
    "sorry i meant {city2}",
    "i think it was last week",
    "I want to return the {item} and the {item2}",
    "i want to return the {item} too",
    "i want to return everything",
)
_LLM_OPENINGS = (
    "Hello! I would like to request assistance with my reservation {code}; specifically, I need "
    "to change my return flight from {city} to {city2}. Thank you for your help.",
    "Hi there, I hope you are doing well. I recently purchased a {item} (order {order}) and, "
    "unfortunately, it arrived damaged. Could you please help me return it? Thank you!",
    "Good afternoon. My name is {name}, and my user ID is {user}. I would like to cancel order "
    "{order} — the items are no longer needed. I appreciate your assistance.",
    "Hello, I would appreciate your help with exchanging the {item} from order {order}; "
    "moreover, I would like to confirm the refund method. Thank you in advance.",
)
_LLM_TURNS = (
    "Thank you for the information. Please proceed with the cancellation of order {order}.",
    "Yes, that is correct. My email address is {email}, and my zip code is 10001.",
    "Certainly! My user ID is {user}. Please let me know if you need anything else.",
    "I appreciate your help. However, I would prefer to keep the original payment method.",
    "That sounds great — please go ahead and book the flight. Thank you so much!",
    "Could you please confirm the total price before proceeding? Thank you.",
    "Thank you for your patience. Is there anything else I can help you with?",
    "I apologize for the inconvenience; I may have given the wrong reservation ID. It is {code}.",
    "Absolutely, I am sure that this is the correct order. Thank you for checking.",
    "Regarding the refund, could you please clarify when it will be processed?",
    "Alternatively, could you check whether an upgrade to business class is possible?",
    "I understand. In that case, I would like to exchange the {item} instead. Thank you!",
    "Perfect, thank you so much for your help today. Have a wonderful day!",
    "Thank you. Please use the credit card ending in 7447 for the remaining balance.",
    "I am not sure which one I ordered; perhaps it was the {item2}? Thank you for your patience.",
    "Yes, please. Thank you!",
    "Thank you for your help. I would like to return the {item} as well, please.",
)
_AGENT_TURNS = (
    "Thanks! Could you please provide your user ID so I can look up your account?",
    "I found your reservation. Would you like me to proceed with the change? (yes/no)",
    "The total comes to $243.50. Shall I charge the card on file?",
    "I'm sorry, but according to our policy this item cannot be returned.",
    "Which payment method would you like to use for the refund?",
    "Done! Your order has been cancelled and the refund will arrive in 5-7 business days.",
)


def _fill(template: str, slots: dict[str, str]) -> str:
    return template.format(**slots) if "{" in template else template


def _slots(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, city2 = rng.sample(_CITIES, 2)
    item, item2 = rng.sample(_ITEMS, 2)
    code = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5)) + str(
        rng.randrange(10)
    )
    return {
        "name": f"{first.title()} {last.title()}",
        "user": f"{first}_{last}_{rng.randrange(1000, 10000)}",
        "email": f"{first}.{last}{rng.randrange(10, 100)}@example.com",
        "order": f"#W{rng.randrange(1_000_000, 10_000_000)}",
        "code": code,
        "digits": str(rng.randrange(1_000_000, 10_000_000)),
        "city": city,
        "city2": city2,
        "item": item,
        "item2": item2,
    }


def _user_turns(rng: random.Random, llm_register: float, slots: dict[str, str]) -> list[str]:
    """One episode's user turns: each turn from the LLM bank with probability ``llm_register``."""
    n_turns = rng.randint(MIN_USER_TURNS, MAX_USER_TURNS)
    llm = rng.random() < llm_register
    turns = [_fill(rng.choice(_LLM_OPENINGS if llm else _HUMAN_OPENINGS), slots)]
    for _ in range(n_turns - 1):
        bank = _LLM_TURNS if rng.random() < llm_register else _HUMAN_TURNS
        turns.append(_fill(rng.choice(bank), slots))
    return turns


def _messages(rng: random.Random, turns: list[str], human: bool) -> list[dict[str, object]]:
    """User turns with agent replies (and sometimes a tool call and its result) in between."""
    messages: list[dict[str, object]] = []
    for index, turn in enumerate(turns):
        messages.append({"role": "user", "content": turn})
        if rng.random() < 0.3:
            call_id = f"call_{index}"
            messages.append(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"id": call_id, "name": "get_user_details", "arguments": {"user_id": "x"}}
                    ],
                }
            )
            messages.append({"role": "tool", "content": '{"ok": true}', "tool_call_id": call_id})
        messages.append({"role": "assistant", "content": rng.choice(_AGENT_TURNS)})
    if human:
        messages.append({"role": "user", "content": "/stop"})
    return messages


def _survey(rng: random.Random) -> dict[str, str]:
    return {item.id: rng.choice(item.options) for item in SURVEY_ITEMS}


def write_corpus(path: str | Path, n_episodes: int, seed: int = 0) -> Path:
    """Write ``n_episodes`` synthetic canonical episodes to ``path`` (JSON Lines); return it.

    Same ``seed`` and ``n_episodes`` → byte-identical file.
    """
    rng = random.Random(seed)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    simulators = list(SIMULATORS.items())
    with target.open("w", encoding="utf-8") as handle:
        for index in range(n_episodes):
            human = rng.random() < HUMAN_SHARE
            if human:
                source, batch, llm_register = "human", rng.choice(HUMAN_BATCHES), 0.05
            else:
                source, llm_register = rng.choice(simulators)
                batch = None
            domain = rng.choice(DOMAINS)
            task = rng.randrange(N_TASKS)
            slots = _slots(rng)
            turns = _user_turns(rng, llm_register, slots)
            # Simulators succeed more often than people on the same tasks (the paper's finding).
            p_success = 0.45 if human else 0.7
            record = {
                "episode_id": f"{source}-{domain}-{task}-{index}",
                "source": source,
                "batch": batch,
                "domain": domain,
                "task_id": str(task),
                "messages": _messages(rng, turns, human),
                "reward": 1.0 if rng.random() < p_success else 0.0,
                "survey": _survey(rng),
                # the tau-usi task key (spec §10.1), so both definition sets score the corpus
                "metadata": {"synthetic": True, "tau_usi_key": f"{domain}_{task}"},
            }
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")
    return target
