"""Each rule on hand-written episodes of real τ² tasks: one that fires, one that must not."""

from __future__ import annotations

import pytest

from usi.audit import audit_episode
from usi.audit.models import AuditError, EpisodeAudit

from ._episodes import (
    AIRLINE_TASK,
    EXCHANGE,
    LENIENT,
    agent,
    airline_opening,
    call,
    episode,
    retail_clean,
    retail_opening,
    user,
)


def _errors(audit: EpisodeAudit, kind: str) -> list[AuditError]:
    return [e for e in audit.errors if e.kind == kind]


def test_a_clean_conversation_gets_no_flag_and_every_check_runs() -> None:
    audit = audit_episode(retail_clean())
    assert audit.errors == []
    assert audit.skipped == []


def test_stating_an_id_the_agent_read_out_earlier_is_not_hallucinated() -> None:
    # The user repeats the payment id and the user id only after the agent said them.
    audit = audit_episode(
        episode(
            [
                *retail_opening(),
                user("ok, yusuf_rossi_9620 is me, use credit_card_9513926 and item 7706410293"),
            ]
        )
    )
    assert _errors(audit, "hallucinated_identifier") == []


# ------------------------------------------------------------------------- premature_stop


def test_stopping_right_after_the_agent_asks_to_confirm_is_a_premature_stop() -> None:
    messages = [*retail_opening(), user("Great, thanks! Bye. ###STOP###")]
    audit = audit_episode(episode(messages))
    (error,) = _errors(audit, "premature_stop")
    assert error.turn == 2
    assert error.evidence.startswith("exchange_delivered_order_items(order_id='#W2378156'")
    assert "not executed" in error.evidence and "Shall I proceed?" in error.evidence


def test_a_user_ending_recorded_in_metadata_counts_without_a_token() -> None:
    # The runner strips ###STOP### and records the ending: the audit must still see it.
    messages = [*retail_opening(), user("Great, thanks!")]
    flagged = audit_episode(episode(messages, metadata={"ended_by": "user"}))
    assert [e.kind for e in flagged.errors] == ["premature_stop"]
    by_tau2 = audit_episode(episode(messages, metadata={"termination_reason": "user_stop"}))
    assert [e.kind for e in by_tau2.errors] == ["premature_stop"]


def test_an_ending_that_is_not_the_users_is_not_a_premature_stop() -> None:
    messages = [*retail_opening(), user("Great, thanks! Bye.")]
    audit = audit_episode(episode(messages, metadata={"termination_reason": "max_steps"}))
    assert _errors(audit, "premature_stop") == []
    # No metadata and no goodbye: the conversation was cut off, not ended by the user.
    audit = audit_episode(episode([*retail_opening(), user("Could you explain the price?")]))
    assert _errors(audit, "premature_stop") == []


def test_a_stop_after_the_write_ran_or_a_transfer_is_not_premature() -> None:
    assert _errors(audit_episode(retail_clean()), "premature_stop") == []
    transferred = [
        *retail_opening(),
        *call("t1", "transfer_to_human_agents", {"summary": "exchange"}, "Transfer successful"),
        agent("YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."),
        user("###TRANSFER###"),
    ]
    assert _errors(audit_episode(episode(transferred)), "premature_stop") == []


def test_a_write_the_database_refused_still_ran_so_the_stop_is_not_premature() -> None:
    messages = [
        *retail_opening(),
        user("yes"),
        *call("c3", "exchange_delivered_order_items", EXCHANGE, "Error: order not delivered"),
        agent("Sorry, that did not work."),
        user("ok bye ###STOP###"),
    ]
    assert _errors(audit_episode(episode(messages)), "premature_stop") == []
    # The same conversation without the call: the user left before the agent tried.
    stopped = [*messages[: len(retail_opening()) + 1], user("ok bye ###STOP###")]
    (error,) = _errors(audit_episode(episode(stopped)), "premature_stop")
    assert error.turn == 3


def test_airline_cancellation_stopped_before_the_cancel_call() -> None:
    messages = [*airline_opening(), user(f"Never mind, I'll think about it. {LENIENT} ###STOP###")]
    audit = audit_episode(episode(messages, domain="airline", task_id=AIRLINE_TASK))
    (error,) = _errors(audit, "premature_stop")
    assert error.evidence.startswith("cancel_reservation(reservation_id='NQNU5R') not executed")
    done = [
        *airline_opening(),
        user(f"Yes. {LENIENT}"),
        *call("a2", "cancel_reservation", {"reservation_id": "NQNU5R"}, {"status": "cancelled"}),
        agent("It is cancelled."),
        user(f"Thanks, bye. {LENIENT} ###STOP###"),
    ]
    audit = audit_episode(episode(done, domain="airline", task_id=AIRLINE_TASK))
    # Ending every reply with the quoted sentence is what the instruction asks: no leak, no loop.
    assert audit.errors == []


# ------------------------------------------------------------------ hallucinated_identifier


def test_an_id_nobody_gave_the_user_is_hallucinated() -> None:
    messages = [
        agent("Hi! How can I help you today?"),
        user("I want to exchange items of order #W2378156, my email is yusuf@example.com"),
    ]
    (error,) = _errors(audit_episode(episode(messages)), "hallucinated_identifier")
    assert error == AuditError(
        kind="hallucinated_identifier", turn=0, evidence="e-mail yusuf@example.com"
    )


def test_an_id_stated_before_the_agent_read_it_out_is_hallucinated() -> None:
    messages = [
        agent("Hi! How can I help you today?"),
        user("my user id is yusuf_rossi_9620"),
        *call("c1", "find_user_id_by_name_zip", {"zip": "19122"}, "yusuf_rossi_9620"),
        agent("Found you."),
        user("yes yusuf_rossi_9620"),
    ]
    errors = _errors(audit_episode(episode(messages)), "hallucinated_identifier")
    assert errors == [
        AuditError(kind="hallucinated_identifier", turn=0, evidence="user id yusuf_rossi_9620")
    ]


def test_a_user_id_contradicting_the_instruction_is_flagged_even_if_the_agent_said_it() -> None:
    messages = [
        agent("Hello, I see the account aarav_ahmed_6690 on file. Is that you?"),
        user("yes, aarav_ahmed_6690"),
    ]
    audit = audit_episode(episode(messages, domain="airline", task_id=AIRLINE_TASK))
    (error,) = _errors(audit, "hallucinated_identifier")
    assert error.evidence == "user id aarav_ahmed_6690 (the instruction gives aarav_ahmed_6699)"


def test_ids_of_the_instruction_in_any_case_and_form_are_known() -> None:
    messages = [
        agent("Hi!"),
        user("order W2378156, zip 19122. Or #w2378156 if you prefer."),
    ]
    assert _errors(audit_episode(episode(messages)), "hallucinated_identifier") == []


# ------------------------------------------------------------------------ instruction_leak


def test_copying_twelve_tokens_of_the_instruction_is_a_leak() -> None:
    text = (
        "hello! I wish to exchange the mechanical keyboard for a similar one but with clicky "
        "switches please"
    )
    (error,) = _errors(audit_episode(episode([agent("Hi!"), user(text)])), "instruction_leak")
    assert error.evidence == (
        "wish to exchange the mechanical keyboard for a similar one but with clicky switches"
    )


def test_meta_framing_and_second_person_instruction_text_are_leaks() -> None:
    framing = audit_episode(episode([agent("Hi!"), user("My instructions say I need a refund.")]))
    assert [e.evidence for e in framing.errors] == ["My instructions say"]
    second = audit_episode(episode([agent("Hi!"), user("You are Yusuf Rossi in zip code 19122.")]))
    assert [e.kind for e in second.errors] == ["instruction_leak"]


def test_a_paraphrase_or_the_cards_suggested_opening_is_not_a_leak() -> None:
    paraphrase = "I'd like to swap the keyboard for one with clicky switches, and the thermostat"
    assert audit_episode(episode([agent("Hi!"), user(paraphrase)])).errors == []
    suggested = (
        "Hi! I received my order #W2378156 and wish to exchange the mechanical keyboard for a "
        "similar one but with clicky switches"
    )
    study = episode(
        [agent("Hi!"), user(suggested)], source="human", metadata={"first_message": suggested}
    )
    assert audit_episode(study).errors == []


# -------------------------------------------------------------------------- role_confusion


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        (
            "I apologize for the inconvenience, here is my order.",
            "I apologize for the inconvenience",
        ),
        ("Sure! Let me check that for you.", "Let me check that for you"),
        ("I have cancelled your reservation as requested.", "I have cancelled your reservation"),
        ("Is there anything else I can help you with?", "Is there anything else I can help"),
    ],
)
def test_the_user_speaking_as_the_agent_is_role_confusion(text: str, evidence: str) -> None:
    (error,) = audit_episode(episode([agent("Hi!"), user(text)])).errors
    assert (error.kind, error.turn, error.evidence) == ("role_confusion", 0, evidence)


def test_asking_for_help_and_thanking_are_not_role_confusion() -> None:
    texts = ["can you help me with my order?", "thank you for your help", "sorry, I meant 19122"]
    messages = [m for text in texts for m in (agent("Yes?"), user(text))]
    assert _errors(audit_episode(episode(messages)), "role_confusion") == []


# ------------------------------------------------------------------------- repetition_loop


def test_the_same_message_three_times_is_a_loop_flagged_at_the_third() -> None:
    said = [
        "I need to exchange my keyboard.",
        "i need to exchange my keyboard",
        "I NEED TO EXCHANGE MY KEYBOARD!",
    ]
    messages = [m for text in said for m in (agent("How can I help?"), user(text))]
    (error,) = _errors(audit_episode(episode(messages)), "repetition_loop")
    assert error.turn == 2


def test_short_answers_repeated_and_a_message_said_twice_are_not_loops() -> None:
    said = [
        "yes",
        "yes",
        "yes",
        "yes",
        "ok go ahead",
        "ok go ahead",
        "ok go ahead",
        "my zip is 19122",
        "my zip is 19122",
    ]
    messages = [m for text in said for m in (agent("Confirm?"), user(text))]
    assert _errors(audit_episode(episode(messages)), "repetition_loop") == []


# ------------------------------------------------------------------------------ empty_turn


def test_empty_whitespace_and_control_token_turns_are_empty() -> None:
    said = ["hi", "", "   ", "<|im_end|>", "###STOP### </s>", "ok bye"]
    messages = [m for text in said for m in (agent("Yes?"), user(text))]
    errors = _errors(audit_episode(episode(messages)), "empty_turn")
    assert [e.turn for e in errors] == [1, 2, 3, 4]


def test_a_final_stop_token_alone_is_an_ending_not_an_empty_turn() -> None:
    for ending in ("###STOP###", "/stop"):
        messages = [agent("Yes?"), user("thanks"), agent("Bye!"), user(ending)]
        assert _errors(audit_episode(episode(messages)), "empty_turn") == []


# ------------------------------------------------------------------ unaligned and redacted


def test_an_unaligned_episode_gets_the_checks_that_need_no_task() -> None:
    messages = [agent("Hi!"), user("My user id is zed_zed_1234. Let me check that for you.")]
    audit = audit_episode(episode(messages, task_id=None))
    assert audit.skipped == [
        "premature_stop",
        "hallucinated_identifier",
        "instruction_leak:copied_span",
    ]
    assert [e.kind for e in audit.errors] == ["role_confusion"]


def test_a_card_in_metadata_is_an_instruction_for_unaligned_episodes() -> None:
    card = "You are Zed Zed. Your user id is zed_zed_1234. You want to cancel order #W0000001."
    messages = [agent("Hi!"), user("zed_zed_1234 here, cancel #W0000002")]
    audit = audit_episode(episode(messages, task_id=None, metadata={"instruction": card}))
    assert audit.skipped == ["premature_stop"]
    assert [e.evidence for e in audit.errors] == ["order id #W0000002"]


def test_a_transcript_with_agent_messages_removed_skips_what_needs_them() -> None:
    messages = [
        agent("[agent message elided in this sample]"),
        user("ok bye, my id is yusuf_rossi_1234 ###STOP###"),
    ]
    audit = audit_episode(episode(messages))
    assert audit.skipped == ["premature_stop", "hallucinated_identifier:unseen"]
    assert audit.errors == []
