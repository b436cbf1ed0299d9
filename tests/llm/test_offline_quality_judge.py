"""The offline quality judge that the study's admin uses in tests and offline demos."""

from __future__ import annotations

import json

from usi.llm.offline.behaviour import quality_reply
from usi.llm.quality import judge_messages, parse_verdict


def _verdict(card: str, turns: list[tuple[str, str]]) -> tuple[float, str]:
    reply = quality_reply(judge_messages(card, turns))
    verdict = parse_verdict(reply)
    return verdict.score, verdict.reasoning


CARD = "You are Yusuf Rossi in zip code 19122. You received your order #W2378156."


def test_participant_using_every_card_identifier_scores_100() -> None:
    turns = [("user", "hi im yusuf rossi 19122"), ("assistant", "ok"), ("user", "order W2378156")]
    score, reasoning = _verdict(CARD, turns)
    assert score == 100 and "3 of the card's 3" in reasoning


def test_identifiers_said_only_by_the_agent_do_not_count() -> None:
    turns = [("user", "hello"), ("assistant", "Is it Yusuf Rossi, 19122, order #W2378156?")]
    score, _ = _verdict(CARD, turns)
    assert score == 0


def test_partial_adherence_is_a_fraction_and_the_reply_is_json() -> None:
    turns = [("user", "19122")]
    reply = json.loads(quality_reply(judge_messages(CARD, turns)))
    assert reply["score"] == 33 and set(reply) == {"score", "reasoning"}
