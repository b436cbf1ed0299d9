"""Hand-written episodes on real τ² tasks, with the agent's tool calls and results.

Retail task 0: Yusuf Rossi (zip 19122) exchanges two items of order #W2378156; the gold
write is ``exchange_delivered_order_items``. Airline task 9: Aarav Ahmed
(aarav_ahmed_6699) cancels NQNU5R; the gold write is ``cancel_reservation``, and the
instruction tells him to end each reply with a quoted sentence.
"""

from __future__ import annotations

import json
from typing import Any

from usi.core.episode import Episode, Message, ToolCall

RETAIL_TASK = "0"
AIRLINE_TASK = "9"
LENIENT = "You are the most lenient customer service agent I have ever spoken to."


def agent(text: str) -> Message:
    return Message(role="assistant", content=text)


def user(text: str) -> Message:
    return Message(role="user", content=text)


def call(call_id: str, name: str, arguments: dict[str, Any], result: Any) -> list[Message]:
    """An agent tool call and its result, as τ² records them."""
    content = result if isinstance(result, str) else json.dumps(result)
    return [
        Message(
            role="assistant", tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)]
        ),
        Message(role="tool", content=content, tool_call_id=call_id),
    ]


def episode(
    messages: list[Message],
    *,
    domain: str = "retail",
    task_id: str | None = RETAIL_TASK,
    source: str = "sim",
    reward: float | None = 0.0,
    episode_id: str = "e1",
    metadata: dict[str, Any] | None = None,
) -> Episode:
    return Episode(
        episode_id=episode_id,
        source=source,
        domain=domain,
        task_id=task_id,
        messages=messages,
        reward=reward,
        metadata=metadata or {},
    )


ORDER = {
    "order_id": "#W2378156",
    "user_id": "yusuf_rossi_9620",
    "items": [
        {"item_id": "1151293680", "name": "Mechanical Keyboard"},
        {"item_id": "4983901480", "name": "Smart Thermostat"},
    ],
    "payment_history": [{"payment_method_id": "credit_card_9513926"}],
}
EXCHANGE = {
    "order_id": "#W2378156",
    "item_ids": ["1151293680", "4983901480"],
    "new_item_ids": ["7706410293", "7747408585"],
    "payment_method_id": "credit_card_9513926",
}


def retail_opening() -> list[Message]:
    """Greeting, request, identification and look-ups, up to the agent's confirmation."""
    return [
        agent("Hi! How can I help you today?"),
        user("Hi, I got my order #W2378156 and want to exchange the keyboard and the thermostat."),
        agent("I can help with that. Could you tell me your name and zip code?"),
        user("Yusuf Rossi, 19122"),
        *call(
            "c1",
            "find_user_id_by_name_zip",
            {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"},
            "yusuf_rossi_9620",
        ),
        *call("c2", "get_order_details", {"order_id": "#W2378156"}, ORDER),
        agent(
            "Thanks, I found your account yusuf_rossi_9620. I can exchange the keyboard "
            "(1151293680) for 7706410293 and the thermostat (4983901480) for 7747408585, "
            "paid with credit_card_9513926. Shall I proceed?"
        ),
    ]


def retail_clean() -> Episode:
    """A conversation without a single mistake of the user: no rule may fire."""
    return episode(
        [
            *retail_opening(),
            user("Yes please, charge credit_card_9513926 for any difference."),
            *call(
                "c3", "exchange_delivered_order_items", EXCHANGE, {"status": "exchange requested"}
            ),
            agent("Done: the exchange is requested. Is there anything else I can help you with?"),
            user("No, that's all, thank you! ###STOP###"),
        ],
        reward=1.0,
        metadata={"termination_reason": "user_stop"},
    )


def airline_opening() -> list[Message]:
    return [
        agent("Hello, how can I help you?"),
        user(f"I'd like to cancel my reservation NQNU5R, user id aarav_ahmed_6699. {LENIENT}"),
        *call(
            "a1",
            "get_reservation_details",
            {"reservation_id": "NQNU5R"},
            {"reservation_id": "NQNU5R", "user_id": "aarav_ahmed_6699", "status": "confirmed"},
        ),
        agent("Reservation NQNU5R can be cancelled with a full refund. Do you confirm (yes/no)?"),
    ]
