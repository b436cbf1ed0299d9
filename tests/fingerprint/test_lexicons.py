"""Every cue lexicon of spec §2 on positive and (tricky) negative turns."""

from __future__ import annotations

import pytest

from usi.fingerprint import TURN_FLAG_FEATURES, fingerprint_turns, turn_cues
from usi.fingerprint.extract import _identifier_counts


def flag(feature: str, turn: str) -> bool:
    return bool(turn_cues([turn])[feature][0])


CASES: dict[str, tuple[list[str], list[str]]] = {
    "short_utterance_rate": (
        ["yes", "ok go ahead", "A", "  Yes, please!  ", "I'm fine", "?"],
        ["ok go ahead now", "my user id is mia_li_3668", "don't do that"],
    ),
    "politeness_rate": (
        [
            "Please cancel it",
            "pls help",
            "plz",
            "Thanks!",
            "thank you so much",
            "THANK YOU",
            "thx",
            "ty",
            "sorry, wrong number",
            "Apologies for the delay",
            "I really appreciate it",
            "kindly refund me",
            "would you mind checking again",
            "no worries",
            "pleeease hurry",
        ],
        [
            "this would displease my wife",
            "thanksgiving trip",
            "the sorrys are over",  # "sorrys" is another word
            "cancel it",
            "mind the gap",
            "no more worries",  # not the fixed phrase
        ],
    ),
    "formality_rate": (
        [
            "I need a refund — now",
            "dates: 3–5 May",
            "I want economy; no insurance",
            "Furthermore, the box was damaged",
            "However I changed my mind",
            "regarding my order",
            "with respect to the refund",
            "with  respect\nto the refund",
            "concerning the fee",
            "hence the request",
        ],
        ["i need a refund - now", "thusly", "henceforth", "the regard is high", "ok"],
    ),
    "acknowledgment_rate": (
        [
            "ok",
            "Okay.",
            "sure!",
            "Got it",
            "alright",
            "Yes",
            "yeah",
            "yep",
            "No.",
            "fine",
            "great!!",
            "cool",
            "Perfect.",
            "sounds good",
            "Understood",
            "noted",
            "makes sense",
            "ok, sounds good",
            "yes perfect",
            "  OK  ",
        ],
        [
            "A",
            "ok go ahead",
            "no, the other one",
            "yes please cancel it",
            "ok?",
            "thanks",
            "not ok",
            "nope, wrong card",
            "I know",  # "no" inside "know"
        ],
    ),
    "identity_confusion_rate": (
        [
            "How may I help you today?",
            "how can i assist",
            "Let me check that for you.",
            "Is there anything else I can help you with?",
            "I apologize for the inconvenience",
            "Thank you for your patience.",
            "I’d be happy to help you with that",
        ],
        [
            "can you help me",
            "let me check my email",
            "thank you",
            "is there anything else i should know",
            "sorry for the trouble",
        ],
    ),
    "uncertainty_rate": (
        [
            "maybe the blue one",
            "Perhaps",
            "probably last week",
            "I'm not sure",
            "i think so",
            "I guess",
            "I don't know",
            "i dont know",
            "I don’t know",
            "idk",
            "kind of",
            "kinda",
            "it might be in my profile",
            "hmm",
            "Hmmm...",
        ],
        [
            "I know my id",
            "I'm sure",
            "thinking of you",  # "think" without "i" in front
            "the mighty one",
            "maybelline lipstick",
            "what kind is it",  # "kind" without "of"
        ],
    ),
    "certainty_rate": (
        [
            "definitely",
            "Absolutely!",
            "certainly",
            "for sure",
            "exactly",
            "clearly the first",
            "obviously",
            "I'm sure",
            "im sure",
            "I’m positive",
            "I am certain",
            "100% sure",
            "100 % sure",
        ],
        [
            "I'm not sure",
            "are you sure",
            "sure",  # an acknowledgment, not a booster
            "1100% markup",
            "it costs 100 dollars",
            "exactlyish",
        ],
    ),
    "pushback_rate": (
        [
            "That's not right",
            "thats not correct",
            "That’s wrong",
            "that is incorrect",
            "I already told you my zip",
            "As I said, economy",
            "are you sure?",
            "I disagree",
            "you're not listening",
            "youre not listening to me",
        ],
        [
            "that's right",
            "that's correct",
            "I told her already",
            "as i see it",
            "i agree",
            "you are listening",
        ],
    ),
    "clarification_question_rate": (
        [
            "What do you mean?",
            "can you clarify",
            "Could you explain that",
            "can you repeat the price",
            "I don't understand",
            "i dont understand",
            "I'm confused",
            "which one?",
            "what?",
            "What??",
            "huh?",
            "wait what",
            "sorry?",
        ],
        [
            "what is my balance",  # an info question, not a bare "what"
            "whatever",
            "sorry",  # an apology
            "I understand",
            "which is fine",
            "so what",
        ],
    ),
    "info_seeking_rate": (
        [
            "What is the status of my order?",
            "any update?",
            "Can you check the price",
            "could you confirm the dates",
            "is it possible to upgrade",
            "How do I get a refund",
            "how can i change it",
            "When will it arrive?",
            "why is it so expensive",
            "do you have a later flight",
        ],
        [
            "the status is fine",
            "I will check",
            "it is possible",
            "how nice",
            "why not",
            "you have it",
        ],
    ),
    "emotional_expression_rate": (
        [
            "I'm so frustrated",
            "this is annoying",
            "I'm upset",
            "very disappointed",
            "this is ridiculous",
            "ugh",
            "Ughhh",
            "oh come on",
            "forget it",
            "never mind",
            "nvm",
            "seriously?",
            "Seriously!",
        ],
        [
            "i seriously need this",  # an adverb, not an outburst
            "the upset price",  # still matches? no: see below
            "come online",
            "i will not forget it" + "s",
            "disappointment-free",
        ],
    ),
    "accusatory_rate": (
        [
            "this is useless",
            "Unacceptable.",
            "you are incompetent",
            "what a scam",
            "terrible service",
            "awful",
            "a waste of time",
            "waste of my time",
            "you're not helping",
            "do your job",
        ],
        ["it's useful", "scampi for dinner", "time to waste", "you are helping", "job done"],
    ),
    "strategy_pivot_rate": (
        [
            "use the other card instead",
            "rather than a refund, a gift card",
            "in that case, cancel it",
            "On second thought, keep it",
            "Actually, make it Friday",
            "actually i want the red one",
            "how about friday",
            "alternatively the train",
            "scratch that",
            "let's try the other card",
            "lets try again",
        ],
        [
            "I actually have two bags",  # filler "actually" inside the sentence
            "insteadofit",
            "rather nice",
            "that case is blue",
            "about friday",
            "the reason is change of plans",  # the stated cancellation reason, not a pivot
            "Change of plans.",
        ],
    ),
}

# "the upset price" contains the cue "upset": keep the negative list honest.
CASES["emotional_expression_rate"][1].remove("the upset price")


def test_every_turn_flag_feature_has_cases() -> None:
    assert set(CASES) == set(TURN_FLAG_FEATURES)


@pytest.mark.parametrize(
    ("feature", "turn"),
    [(f, t) for f, (positives, _) in CASES.items() for t in positives],
)
def test_positive_turn(feature: str, turn: str) -> None:
    assert flag(feature, turn), f"{feature} should fire on {turn!r}"


@pytest.mark.parametrize(
    ("feature", "turn"),
    [(f, t) for f, (_, negatives) in CASES.items() for t in negatives],
)
def test_negative_turn(feature: str, turn: str) -> None:
    assert not flag(feature, turn), f"{feature} should not fire on {turn!r}"


def test_cues_never_cross_turns() -> None:
    # "thank" ends one turn and "you" opens the next: no "thank you" in either turn.
    assert not turn_cues(["I want to thank", "you people"])["politeness_rate"].any()
    # A bare "what" is a whole turn only; the next turn's text must not make it one.
    flags = turn_cues(["what", "what is the price"])["clarification_question_rate"]
    assert flags.tolist() == [True, False]
    # Acknowledgment is anchored on each turn, not on the chunk.
    assert turn_cues(["ok", "ok go", "yes"])["acknowledgment_rate"].tolist() == [True, False, True]


def test_separator_character_inside_a_turn_is_harmless() -> None:
    # The private-use joiner inside a turn must not split it into two turns.
    assert turn_cues(["ok\ue000 thanks"])["acknowledgment_rate"].tolist() == [False]
    assert fingerprint_turns(["ok\ue000 thanks"])["politeness_rate"] == 1.0


@pytest.mark.parametrize(
    ("turn", "count"),
    [
        ("order #W1234567 please", 1),
        ("reservation EHGLP3", 1),
        ("W1234567", 1),
        ("my card is 4111111111111111", 1),
        ("call 5551234567", 1),
        ("mia.li@example.com", 1),
        ("mia_li_3668", 1),
        ("Mia_Li_3668", 1),
        ("use gift_card_7480005", 1),
        ("mia_li_3668@example.com", 1),  # one e-mail, not also a user id
        ("#W1234567 and #W7654321, code EHGLP3 for mia_li_3668", 4),
        ("SEATTLE", 0),  # upper-case word without a digit is a place, not a code
        ("HELLOWORLD", 0),
        ("PLEASE CANCEL", 0),
        # letters-only reservation codes count (spec §2, usi-v2); shouted words do not
        ("my reservation is HXDUBJ", 1),
        ("IFOYYZ", 1),
        ("cancel HXDUBJ and IFOYYZ please", 2),
        ("PLEASE CANCEL IT", 0),
        ("PLEASE", 0),
        ("please CANCEL my flight", 0),
        ("I WANT TO CANCEL MY ORDER", 0),
        ("hxdubj", 0),
        ("ehglp3", 0),  # the code rule is upper case
        ("EHGL3", 0),  # 5 characters
        ("123456", 0),  # 6 digits
        ("zip 10001, $243.50, card ending 7447", 0),
        ("555-123-4567", 0),  # no 7-digit run
        ("at 3pm", 0),
        ("item_1", 0),
    ],
)
def test_identifiers(turn: str, count: int) -> None:
    assert _identifier_counts([turn]).tolist() == [count]


def test_identifiers_are_found_on_the_original_case() -> None:
    # Same letters, different case: only the upper-case form is a code.
    assert fingerprint_turns(["EHGLP3", "ehglp3"])["identifiers_per_turn"] == 0.5
