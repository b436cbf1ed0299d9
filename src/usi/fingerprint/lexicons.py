"""Cue lexicons and thresholds of the behavioral fingerprint (spec §2).

Every lexicon is written from the spec's description and examples, plus the informal spellings
people actually type to a support chat ("pls", "thx", "idk", "dont", "thats", curly ’). Cues are
matched on the lower-cased turn, so each entry is written in lower case; a space in an entry
matches any run of whitespace and an apostrophe is optional and may be straight or curly, so
"don't" also matches "don’t" and "dont".

Word boundaries: a cue that starts (ends) with a word character must not be preceded (followed)
by one, so "please" does not fire inside "displease" and "no" does not fire inside "know".

Entries are small regexes: ``thanks``, ``ple+a*s+e+``, ``(?:can|could) you (?:clarify|explain)``.

How they are matched, and why it looks odd: a cue is "the regex that follows a non-word
character" (``\\W`` then ``please(?!\\w)``) instead of the usual ``\\bplease\\b``. Python's regex
engine can then pre-scan the text for non-word characters and try the pattern only there; a
leading assertion disables that scan and makes matching several times slower. The meaning is
the same: "the character before the cue is not a word character". Every turn is searched as
``TURN_SEPARATOR + turn.lower()``, so a cue at the very start of a turn has such a character.
All twelve lexicons are then scanned in a single pass (:data:`CUE_SCAN_PATTERN`, compiled in
:mod:`usi.fingerprint.extract`); one regex per feature (``\\W`` + :data:`CUE_BODIES`) is the
plain definition the tests compare it with.

Every threshold of the spec is a named constant here, so it can be changed in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------

#: A turn of at most this many tokens is a short utterance ("yes", "ok go ahead", "A").
SHORT_UTTERANCE_MAX_TOKENS = 3

#: Repetition looks at word n-grams of this size (trigrams)...
REPETITION_NGRAM = 3
#: ...and calls an n-gram repeated when it occurs MORE than this many times in the episode's
#: user turns (spec: "occurs more than 3 times").
REPETITION_MIN_EXCLUSIVE = 3

#: Front-loading: share of the episode's tokens that are in its first this-many user turns.
FRONT_LOADING_TURNS = 2

#: Upper-case alphanumeric codes (``EHGLP3``, ``W1234567``) need at least this many characters.
CODE_MIN_CHARS = 6
#: Bare digit runs (phone, card, order numbers) need at least this many digits.
DIGIT_RUN_MIN_DIGITS = 7

#: Precedes every turn: a chunk's turns are scanned as one text ``SEP t1 SEP t2 ...`` so each
#: lexicon runs once per chunk, and a lone turn is scanned as ``SEP t``. A private-use code
#: point: neither a word character nor whitespace, so no cue can match across it and the
#: word-boundary checks see it as they would see the start of the text. Whole-turn cues
#: (acknowledgments, a bare "what?") are anchored on it.
TURN_SEPARATOR = "\ue000"

# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------

_APOSTROPHE = "['’]?"
_SPACE = r"\s+"
_WORD_END_GUARD = r"(?!\w)"
_SEP = re.escape(TURN_SEPARATOR)
#: End of a turn: the next turn's separator or the end of the text.
TURN_END = rf"(?={_SEP}|\Z)"


def _body(cue: str) -> str:
    """Spaces → any whitespace run; apostrophes → optional straight or curly apostrophe."""
    return cue.replace(" ", _SPACE).replace("'", _APOSTROPHE)


def _expand_leading_group(cue: str) -> list[str]:
    """``(?:can|could) you`` → ``can you``, ``could you``: every cue must start with a literal."""
    if not cue.startswith("(?:"):
        return [cue]
    close = cue.index(")")
    options = cue[3:close]
    if "(" in options:
        raise ValueError(f"nested group at the start of cue {cue!r}")
    return [option + cue[close + 1 :] for option in options.split("|")]


@dataclass(frozen=True)
class Lexicon:
    """The cues of one feature, as the regex that follows the leading non-word character.

    ``words`` are word-bounded cues (see the module docstring for the mini-syntax);
    ``symbols`` are non-word characters that are cues by themselves (em dash, semicolon: the
    lookbehind tests the leading character itself); ``bodies`` are raw regex fragments matched
    right after the leading character, which they may inspect with a lookbehind (whole-turn
    cues, "100%").
    """

    words: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()

    def alternatives(self) -> list[str]:
        """One regex per cue (word cues expanded and bounded), symbols first."""
        symbols = "".join(self.symbols)
        if any(len(c) != 1 or c.isalnum() or c == "_" for c in self.symbols):
            raise ValueError(f"symbols must be single non-word characters: {self.symbols!r}")
        out = [f"(?<=[{re.escape(symbols)}])"] if symbols else []
        for word in self.words:
            for cue in _expand_leading_group(word):
                if not _starts_with_literal(cue):
                    raise ValueError(f"a word cue must start with a literal letter: {cue!r}")
                end = "" if cue.endswith("]") else _WORD_END_GUARD
                out.append(_body(cue) + end)
        return [*out, *self.bodies]


def _starts_with_literal(fragment: str) -> bool:
    """True if ``fragment`` starts with a plain ASCII letter/digit that no quantifier follows."""
    return (
        bool(fragment)
        and fragment[0].isascii()
        and fragment[0].isalnum()
        and (fragment[1:2] not in {"?", "*", "+", "{"})
    )


def trie(alternatives: Iterable[str], depth: int = 2) -> str:
    """An alternation with shared literal prefixes factored out (``th(?:anks|at's...)``).

    Python's engine tries the branches of an alternation one after the other; factoring the
    first characters makes a non-matching position cost a few literal tests instead of one per
    cue. Same language as ``(?:a|b|...)``.
    """
    groups: dict[str, list[str]] = {}
    others: list[str] = []
    for alternative in alternatives:
        if depth > 0 and _starts_with_literal(alternative):
            groups.setdefault(alternative[0], []).append(alternative[1:])
        else:
            others.append(alternative)
    branches = [first + trie(rests, depth - 1) for first, rests in groups.items()]
    return "(?:" + "|".join([*branches, *others]) + ")"


def whole_turn_body(words: Iterable[str], trailing: str) -> str:
    """A turn consisting only of one or more of ``words`` (comma/space separated) + punctuation.

    The leading non-word character must be the separator that precedes every turn (see
    :data:`TURN_SEPARATOR`), and the match must reach the next separator or the end.
    """
    item = "(?:" + "|".join(_body(w) for w in words) + ")"
    return rf"(?<={_SEP})\s*{item}(?:[\s,]+{item})*{trailing}\s*{TURN_END}"


# --------------------------------------------------------------------------------------------
# Tokens and identifiers
# --------------------------------------------------------------------------------------------

#: Tokens are lower-cased ``\w+`` runs (spec §1); "I'm" is the two tokens "i" and "m".
TOKEN_PATTERN = r"\w+"

#: Six-letter words people type in capitals in a support chat: never a letters-only code.
CAPITALISED_WORDS: frozenset[str] = frozenset(
    [
        "PLEASE",
        "CANCEL",
        "THANKS",
        "REFUND",
        "FLIGHT",
        "CHANGE",
        "RETURN",
        "ORDERS",
        "URGENT",
        "ALWAYS",
        "BEFORE",
        "ACCEPT",
        "AMOUNT",
        "BOUGHT",
        "BROKEN",
        "CHARGE",
        "CREDIT",
        "DELETE",
        "DOUBLE",
        "EITHER",
        "ENOUGH",
        "FAMILY",
        "FRIDAY",
        "MONDAY",
        "SUNDAY",
        "HAPPEN",
        "HELPED",
        "INSIDE",
        "LAPTOP",
        "LITTLE",
        "MYSELF",
        "NEEDED",
        "NUMBER",
        "OFFICE",
        "PAYPAL",
        "PEOPLE",
        "PERIOD",
        "PERSON",
        "POLICY",
        "PRETTY",
        "REALLY",
        "REASON",
        "RECENT",
        "REMOVE",
        "REPAIR",
        "SEASON",
        "SECOND",
        "SELECT",
        "SHOULD",
        "SIMPLE",
        "SINGLE",
        "STATUS",
        "SUPPLY",
        "SWITCH",
        "TABLET",
        "TRAVEL",
        "UPDATE",
        "WANTED",
        "WINDOW",
        "YELLOW",
        "ANSWER",
        "BOSTON",
        "DALLAS",
        "DENVER",
        "AUSTIN",
        "NEWARK",
        "LONDON",
        "AGENTS",
    ]
)
_CAPITALISED_WORDS = "(?:" + "|".join(sorted(CAPITALISED_WORDS)) + ")"

#: Identifier-like strings, matched on the ORIGINAL text because the code rule is about case.
#: One alternation, scanned left to right without overlaps, so an e-mail that contains a user id
#: or an order code that contains a digit run counts once. Rules, in priority order:
#:
#: - e-mail address: ``local@domain.tld``;
#: - user id ``name_name_1234``: two or more letter groups and a digit group joined by ``_``
#:   (case-insensitive: people retype ``Mia_Li_3668``; payment ids ``gift_card_7480005`` too);
#: - ``#`` followed by letters/digits with at least one digit (``#W1234567``, ``#12345``);
#: - upper-case code: CODE_MIN_CHARS+ upper-case letters/digits with at least one letter AND
#:   one digit (``EHGLP3``, ``W1234567``). Lower-case codes are not counted: the spec defines
#:   the rule on upper case, and lower-case 6-char words with a digit are mostly other things
#:   ("3bags", "2pm-ish");
#: - letters-only code (spec §2, usi-v2): exactly CODE_MIN_CHARS upper-case letters
#:   (``HXDUBJ``, ``IFOYYZ``: τ airline reservation codes are six letters), unless it is a
#:   common word typed in capitals (:data:`CAPITALISED_WORDS`: "PLEASE", "CANCEL") or stands
#:   next to another all-caps word (a shouted sentence: "PLEASE CANCEL IT"). Longer all-caps
#:   runs are words or places ("SEATTLE", "HELLOWORLD"), not codes;
#: - digit run: DIGIT_RUN_MIN_DIGITS+ consecutive digits (card, phone, order numbers); shorter
#:   runs are prices, dates, zip codes, card endings.
#:
IDENTIFIER_PATTERN = (
    r"(?<![\w.+\-])[A-Za-z0-9][\w.+\-]*@[A-Za-z0-9][\w\-]*(?:\.[\w\-]+)+"
    r"|(?<!\w)[A-Za-z]+(?:_[A-Za-z]+)+_\d+(?!\w)"
    r"|#(?=[A-Za-z0-9]*\d)[A-Za-z0-9]+"
    rf"|(?<!\w)(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*\d)[A-Z0-9]{{{CODE_MIN_CHARS},}}(?!\w)"
    rf"|(?<!\w)(?<![A-Z][A-Z][ \t])(?!{_CAPITALISED_WORDS}(?!\w))[A-Z]{{{CODE_MIN_CHARS}}}"
    r"(?!\w)(?![ \t]+[A-Z]{2,}(?!\w))"
    rf"|(?<!\d)\d{{{DIGIT_RUN_MIN_DIGITS},}}(?!\d)"
)
#: Every rule leaves a two-character trace that ordinary text rarely has: an "@" or "#", "_"
#: before a digit, an upper-case letter next to a digit (a code mixes both, so somewhere they
#: touch), or 7 digits in a row. :data:`IDENTIFIER_HINT_PATTERN` finds it with a fast
#: character-set scan, so only turns that have one are scanned with the full pattern (prices,
#: dates and times alone do not make a turn a candidate).
_DIGITS_AFTER_FIRST = DIGIT_RUN_MIN_DIGITS - 1
IDENTIFIER_HINT_PATTERN = (
    r"[@#_0-9A-Z](?:(?<=[@#])|(?<=_)\d"
    rf"|(?<=\d)(?:\d{{{_DIGITS_AFTER_FIRST}}}|[A-Z])|(?<=[A-Z])\d"
    rf"|(?<=[A-Z])[A-Z]{{{CODE_MIN_CHARS - 1}}})[^{_SEP}]*"
)
#: (The hint match runs on to the next separator: one match per candidate turn.)

# --------------------------------------------------------------------------------------------
# D1 — communication style
# --------------------------------------------------------------------------------------------

#: Courtesy markers. "ty" and "thx" are how thanks is typed; "apologi[sz]e" is the user's own
#: apology (the agent-like "I apologize for the inconvenience" also counts as identity confusion).
POLITENESS_CUES: tuple[str, ...] = (
    "please",
    "ple+a*s+e+",
    "pls",
    "plz",
    "plse",
    "thanks",
    "thank you",
    "thank u",
    "thankyou",
    "thanx",
    "thnx",
    "thx",
    "tnx",
    "ty",
    "tysm",
    "sorry",
    "sry",
    "apologies",
    "apologi[sz]e",
    "appreciate",
    "appreciated",
    "kindly",
    "would you mind",
    "no worries",
)

#: Formal-register connectives; dashes and semicolons are punctuation cues (below).
FORMALITY_CUES: tuple[str, ...] = (
    "furthermore",
    "moreover",
    "additionally",
    "therefore",
    "thus",
    "hence",
    "however",
    "nevertheless",
    "nonetheless",
    "regarding",
    "with respect to",
    "with regard to",
    "concerning",
    "accordingly",
    "consequently",
)
#: Em dash, en dash, semicolon: typographic habits of written, formal prose.
FORMALITY_SYMBOLS: tuple[str, ...] = ("\u2014", "\u2013", ";")

#: Acknowledgments. Anchored on the WHOLE turn: "yes", "ok" and "no" open most substantive
#: turns too ("yes, cancel order #W1234567"), and the feature measures turns whose only job is
#: to acknowledge. Several in a row ("ok sounds good", "yes, perfect") still only acknowledge.
#: "no" is here because a bare "No." answers a confirmation question just like "yes" does.
ACKNOWLEDGMENT_CUES: tuple[str, ...] = (
    "ok",
    "okay",
    "okey",
    "okie",
    "okk+",
    "k",
    "kk",
    "sure",
    "got it",
    "gotcha",
    "alright",
    "all right",
    "aight",
    "yes",
    "yess+",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "no",
    "nope",
    "nah",
    "fine",
    "great",
    "cool",
    "perfect",
    "sounds good",
    "understood",
    "noted",
    "makes sense",
)
#: Trailing punctuation allowed after an acknowledgment. Not "?": "ok?" asks for confirmation.
ACKNOWLEDGMENT_TRAILING = r"[.!,…\s]*"

#: The user talking like the agent (a simulator slipping into the assistant role).
IDENTITY_CONFUSION_CUES: tuple[str, ...] = (
    "how (?:may|can|could) i (?:help|assist)",
    "how (?:may|can|could) i be of (?:help|assistance)",
    "let me (?:check|look into|look up|verify|pull up) (?:that|this|it) for you",
    "let me check for you",
    "is there anything else (?:i|that i) can (?:help|assist|do)",
    "anything else i can help (?:you )?with",
    "i apologi[sz]e for (?:the|any) inconvenience",
    "thank you for your patience",
    "thanks for your patience",
    "thank you for (?:contacting|reaching out to) us",
    "i(?:'d| would) be (?:happy|glad) to (?:help|assist) you",
)

# --------------------------------------------------------------------------------------------
# D3 — clarification
# --------------------------------------------------------------------------------------------

#: Hedges.
UNCERTAINTY_CUES: tuple[str, ...] = (
    "maybe",
    "perhaps",
    "probably",
    "possibly",
    "not sure",
    "unsure",
    "not certain",
    "i think",
    "i guess",
    "i suppose",
    "don't know",
    "do not know",
    "dunno",
    "idk",
    "no idea",
    "kind of",
    "kinda",
    "sort of",
    "sorta",
    "might be",
    "hm+",
)

#: Boosters. "i'm sure" needs the words adjacent, so "I'm not sure" is a hedge, not a booster.
CERTAINTY_CUES: tuple[str, ...] = (
    "definitely",
    "def",
    "absolutely",
    "certainly",
    "surely",
    "undoubtedly",
    "for sure",
    "exactly",
    "precisely",
    "clearly",
    "obviously",
    "i'm sure",
    "i am sure",
    "i'm positive",
    "i am positive",
    "i'm certain",
    "i am certain",
    "100 percent",
    "hundred percent",
)
#: "100%" (with optional space), not part of a longer number ("1100%", "2.100%").
CERTAINTY_TAILS: tuple[str, ...] = (r"(?<!\.)100\s?%",)

#: Contradicting the agent.
PUSHBACK_CUES: tuple[str, ...] = (
    "that's not (?:right|correct|true|what i)",
    "that is not (?:right|correct|true|what i)",
    "that isn't (?:right|correct|true|what i)",
    "that's wrong",
    "that is wrong",
    "that's incorrect",
    "that is incorrect",
    "not what i (?:said|asked|meant|wanted)",
    "i already (?:told|said|gave|provided|mentioned|explained)",
    "i just (?:told|said)",
    "as i (?:said|mentioned|told you|explained)",
    "like i (?:said|told you|mentioned)",
    "are you sure",
    "i disagree",
    "you're not listening",
    "you are not listening",
    "you aren't listening",
    "i never (?:said|asked)",
)

#: Asking what the agent means. The bare "what?" / "huh?" forms are whole-turn cues below.
CLARIFICATION_CUES: tuple[str, ...] = (
    "what do you mean",
    "what does that mean",
    "what does this mean",
    "(?:can|could) you (?:please )?(?:clarify|explain|repeat|rephrase|elaborate)",
    "i don't understand",
    "i do not understand",
    "i didn't understand",
    "i don't get it",
    "i don't follow",
    "i'm confused",
    "i am confused",
    "i'm lost",
    "which one",
    "which ones",
    "huh",
    "come again",
)
#: Whole-turn clarification: "what?", "what??", "wait what", "sorry?", "pardon?".
CLARIFICATION_WHOLE_TURN: tuple[str, ...] = (
    "what",
    "wait what",
    "huh",
    "sorry\\s*\\?",
    "pardon(?:\\s*\\?)?",
)
CLARIFICATION_WHOLE_TURN_TRAILING = r"[?!.\s]*"

#: Asking for information or status.
INFO_SEEKING_CUES: tuple[str, ...] = (
    "what is the status",
    "what's the status",
    "status of",
    "any update",
    "any updates",
    "any news",
    "(?:can|could) you (?:please )?(?:check|confirm|verify|look up|find out|tell me)",
    "is it possible to",
    "is there a way to",
    "how (?:do|can|could|would|should) i",
    "how much",
    "how many",
    "how long",
    "when will",
    "when does",
    "when is",
    "why is",
    "why was",
    "why did",
    "why does",
    "why are",
    "why can't",
    "do you have",
    "what are my options",
    "what options",
)

# --------------------------------------------------------------------------------------------
# D4 — error reaction
# --------------------------------------------------------------------------------------------

#: Frustration or distress. "seriously" only as an exclamation/question ("seriously?").
EMOTIONAL_EXPRESSION_CUES: tuple[str, ...] = (
    "frustrated",
    "frustrating",
    "frustration",
    "annoyed",
    "annoying",
    "irritated",
    "irritating",
    "upset",
    "disappointed",
    "disappointing",
    "angry",
    "furious",
    "fed up",
    "sick of",
    "tired of",
    "ridiculous",
    "ugh+",
    "argh+",
    "come on",
    "forget it",
    "never mind",
    "nevermind",
    "nvm",
    "seriously\\s*[?!]",
    "wtf",
)

#: Blaming the agent or the company.
ACCUSATORY_CUES: tuple[str, ...] = (
    "useless",
    "unacceptable",
    "incompetent",
    "scam",
    "scammed",
    "terrible",
    "awful",
    "horrible",
    "pathetic",
    "worst",
    "rip off",
    "ripoff",
    "waste of (?:my )?time",
    "you're not helping",
    "you are not helping",
    "you aren't helping",
    "do your job",
)

#: Changing course. "actually" counts when it opens the turn or is set off by a comma/dash
#: ("Actually, make it Friday"), not as a filler inside a sentence ("I actually have two").
STRATEGY_PIVOT_CUES: tuple[str, ...] = (
    "instead",
    "rather than",
    "in that case",
    "on second thought",
    "on second thoughts",
    "actually\\s*[,\u2014\u2013]",
    "how about",
    "what about",
    "alternatively",
    "scratch that",
    "let's try",
    "let us try",
    "let me try",
    "can we try",
)
#: Not a cue: "change of plans" is the cancellation *reason* airline tasks give ("the reason
#: is change of plans"), a stated reason rather than the user changing course (spec §2).
#: Turn-initial "actually" (optionally after "oh"/"wait"/"um").
STRATEGY_PIVOT_OPENING = rf"(?<={_SEP})\s*(?:(?:oh|wait|um|hmm)[\s,]+)?actually(?!\w)"

# --------------------------------------------------------------------------------------------
# Per-feature compiled patterns
# --------------------------------------------------------------------------------------------

#: The rate features detected by lexical cues: the regex that must match right after a non-word
#: character of ``TURN_SEPARATOR + turn.lower()`` for the turn to count.
CUE_LEXICONS: dict[str, Lexicon] = {
    "politeness_rate": Lexicon(POLITENESS_CUES),
    "formality_rate": Lexicon(FORMALITY_CUES, FORMALITY_SYMBOLS),
    "acknowledgment_rate": Lexicon(
        bodies=(whole_turn_body(ACKNOWLEDGMENT_CUES, ACKNOWLEDGMENT_TRAILING),)
    ),
    "identity_confusion_rate": Lexicon(IDENTITY_CONFUSION_CUES),
    "uncertainty_rate": Lexicon(UNCERTAINTY_CUES),
    "certainty_rate": Lexicon(CERTAINTY_CUES, bodies=CERTAINTY_TAILS),
    "pushback_rate": Lexicon(PUSHBACK_CUES),
    "clarification_question_rate": Lexicon(
        CLARIFICATION_CUES,
        bodies=(whole_turn_body(CLARIFICATION_WHOLE_TURN, CLARIFICATION_WHOLE_TURN_TRAILING),),
    ),
    "info_seeking_rate": Lexicon(INFO_SEEKING_CUES),
    "emotional_expression_rate": Lexicon(EMOTIONAL_EXPRESSION_CUES),
    "accusatory_rate": Lexicon(ACCUSATORY_CUES),
    "strategy_pivot_rate": Lexicon(STRATEGY_PIVOT_CUES, bodies=(STRATEGY_PIVOT_OPENING,)),
}
CUE_BODIES: dict[str, str] = {f: trie(lex.alternatives()) for f, lex in CUE_LEXICONS.items()}
CUE_FEATURES: tuple[str, ...] = tuple(CUE_BODIES)

#: "The turn has a cue of feature f" is ``re.search(r"\\W" + CUE_BODIES[f], SEP + turn.lower())``:
#: the plain definition, the tests' reference for the combined scan below.

#: All lexicons in ONE scan: at each non-word character where any feature's cue starts, the
#: match records, in group ``i`` (an empty capture), whether feature ``CUE_FEATURES[i]``'s cue
#: starts there. The cues are tested in zero-width lookaheads, so a match consumes only the
#: leading character and no cue can hide another (overlapping cues of different features,
#: like "thank you" inside "thank you for your patience", are all seen).
#: The gate ``(?=...)`` is the union of every cue as one prefix-factored alternation, so the
#: common case (no cue starts here) costs a few literal tests.
CUE_SCAN_PATTERN = (
    r"\W(?="
    + trie(alt for lex in CUE_LEXICONS.values() for alt in lex.alternatives())
    + ")"
    + "".join(f"(?:(?={body})())?" for body in CUE_BODIES.values())
)
# The patterns are compiled where they are used (:mod:`usi.fingerprint.extract`): the audit
# reads cue phrases from here without paying for compiling the feature scans.
