"""Cue lexicons and thresholds of the behavioral fingerprint (spec §2).

Every lexicon is written from the spec's description and examples, plus the informal spellings
people actually type to a support chat ("pls", "thx", "idk", "dont", "thats", curly ’). Cues are
matched on the lower-cased turn, so each entry is written in lower case; a space in an entry
matches any run of whitespace and an apostrophe is optional and may be straight or curly, so
"don't" also matches "don’t" and "dont".

Word boundaries: a cue that starts (ends) with a word character must not be preceded (followed)
by one, so "please" does not fire inside "displease" and "no" does not fire inside "know".

Why the compiled form looks odd: a lexicon's regex starts by consuming the non-word character
before the cue (``\\W(?:p(?:lease|ls)|...)``) instead of the usual leading ``\\b``. Python's
regex engine can then pre-scan the text for non-word characters and try the pattern only there;
a leading assertion disables that scan and makes matching several times slower. The meaning is
the same: "the character before the cue is not a word character". Every turn is searched as
``TURN_SEPARATOR + turn.lower()``, so a cue at the very start of a turn has such a character.

Every threshold of the spec is a named constant here, so it can be changed in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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


def cue_pattern(
    words: Iterable[str] = (), symbols: Iterable[str] = (), tails: Iterable[str] = ()
) -> str:
    """One regex for a lexicon: word-bounded ``words``, punctuation ``symbols``, and ``tails``.

    Shape: ``\\W(?:(?<=[symbols])|p(?:lease|ls)|t(?:hanks|hx)|...|tails)``. Every match starts
    on the non-word character just before the cue (every turn is preceded by the separator,
    so a cue opening a turn has one too); that is the start boundary, and it lets the engine
    jump between non-word characters with a character-set scan instead of trying the whole
    alternation at every position. Word cues are grouped by first letter so one literal test
    per distinct letter rejects a word start. ``symbols`` are single non-word characters that
    are cues by themselves (em dash, semicolon). ``tails`` are raw regex fragments matched
    right after the leading non-word character, which they may inspect with a lookbehind.
    """
    groups: dict[str, list[str]] = {}
    for word in words:
        for cue in _expand_leading_group(word):
            first = cue[0]
            if not (first.isalnum() and first.isascii()) or cue[1:2] in {"?", "*", "+", "{"}:
                raise ValueError(f"a word cue must start with a literal letter or digit: {cue!r}")
            end = "" if cue.endswith("]") else _WORD_END_GUARD
            groups.setdefault(first, []).append(_body(cue[1:]) + end)
    branches = [f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items()]
    symbol_set = "".join(symbols)
    if symbol_set:
        if any(c.isalnum() or c == "_" for c in symbol_set):
            raise ValueError(f"symbols must be non-word characters: {symbol_set!r}")
        branches.insert(0, f"(?<=[{re.escape(symbol_set)}])")
    return r"\W(?:" + "|".join([*branches, *tails]) + ")"


def whole_turn_pattern(words: Iterable[str], trailing: str) -> str:
    """A turn consisting only of one or more of ``words`` (comma/space separated) + punctuation.

    Anchored on the separator that precedes every turn (see :data:`TURN_SEPARATOR`): a literal
    start lets the engine jump from turn to turn instead of trying every character.
    """
    item = "(?:" + "|".join(_body(w) for w in words) + ")"
    return rf"{_SEP}\s*{item}(?:[\s,]+{item})*{trailing}\s*{TURN_END}"


# --------------------------------------------------------------------------------------------
# Tokens and identifiers
# --------------------------------------------------------------------------------------------

#: Tokens are lower-cased ``\w+`` runs (spec §1); "I'm" is the two tokens "i" and "m".
TOKEN_PATTERN = r"\w+"

#: Identifier-like strings, matched on the ORIGINAL text because the code rule is about case.
#: One alternation, scanned left to right without overlaps, so an e-mail that contains a user id
#: or an order code that contains a digit run counts once. Rules, in priority order:
#:
#: - e-mail address: ``local@domain.tld``;
#: - user id ``name_name_1234``: two or more letter groups and a digit group joined by ``_``
#:   (case-insensitive: people retype ``Mia_Li_3668``; payment ids ``gift_card_7480005`` too);
#: - ``#`` followed by letters/digits with at least one digit (``#W1234567``, ``#12345``);
#: - upper-case code: CODE_MIN_CHARS+ upper-case letters/digits with at least one letter AND
#:   one digit (``EHGLP3``, ``W1234567``). A digit is required because a word typed in capitals
#:   ("PLEASE", "SEATTLE", "CANCEL") is shouting or a place name, not a code; all-letter
#:   reservation codes are the (rarer) price of that rule. Lower-case codes are not counted:
#:   the spec defines the rule on upper case, and lower-case 6-char words with a digit are
#:   mostly other things ("3bags", "2pm-ish");
#: - digit run: DIGIT_RUN_MIN_DIGITS+ consecutive digits (card, phone, order numbers); shorter
#:   runs are prices, dates, zip codes, card endings.
#:
#: Every rule needs a digit or an "@", which :data:`IDENTIFIER_HINT_PATTERN` finds quickly, so
#: only turns that have one are scanned with the full pattern.
IDENTIFIER_PATTERN = (
    r"(?<![\w.+\-])[A-Za-z0-9][\w.+\-]*@[A-Za-z0-9][\w\-]*(?:\.[\w\-]+)+"
    r"|(?<!\w)[A-Za-z]+(?:_[A-Za-z]+)+_\d+(?!\w)"
    r"|#(?=[A-Za-z0-9]*\d)[A-Za-z0-9]+"
    rf"|(?<!\w)(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*\d)[A-Z0-9]{{{CODE_MIN_CHARS},}}(?!\w)"
    rf"|(?<!\d)\d{{{DIGIT_RUN_MIN_DIGITS},}}(?!\d)"
)
#: A turn can hold an identifier only if it has a digit or an "@"; one match per such turn
#: (the match runs to the next separator).
IDENTIFIER_HINT_PATTERN = rf"[\d@][^{_SEP}]*"

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
    "change of plans",
)
#: Turn-initial "actually" (optionally after "oh"/"wait"/"um").
STRATEGY_PIVOT_OPENING = rf"{_SEP}\s*(?:(?:oh|wait|um|hmm)[\s,]+)?actually(?!\w)"

# --------------------------------------------------------------------------------------------
# Per-feature compiled patterns
# --------------------------------------------------------------------------------------------

#: The rate features detected by lexical cues, each as the tuple of regexes a turn must hit
#: (any of them) to count. Searched in ``TURN_SEPARATOR + turn.lower()``.
CUE_PATTERNS: dict[str, tuple[str, ...]] = {
    "politeness_rate": (cue_pattern(POLITENESS_CUES),),
    "formality_rate": (cue_pattern(FORMALITY_CUES, FORMALITY_SYMBOLS),),
    "acknowledgment_rate": (whole_turn_pattern(ACKNOWLEDGMENT_CUES, ACKNOWLEDGMENT_TRAILING),),
    "identity_confusion_rate": (cue_pattern(IDENTITY_CONFUSION_CUES),),
    "uncertainty_rate": (cue_pattern(UNCERTAINTY_CUES),),
    "certainty_rate": (cue_pattern(CERTAINTY_CUES, tails=CERTAINTY_TAILS),),
    "pushback_rate": (cue_pattern(PUSHBACK_CUES),),
    "clarification_question_rate": (
        cue_pattern(CLARIFICATION_CUES),
        whole_turn_pattern(CLARIFICATION_WHOLE_TURN, CLARIFICATION_WHOLE_TURN_TRAILING),
    ),
    "info_seeking_rate": (cue_pattern(INFO_SEEKING_CUES),),
    "emotional_expression_rate": (cue_pattern(EMOTIONAL_EXPRESSION_CUES),),
    "accusatory_rate": (cue_pattern(ACCUSATORY_CUES),),
    "strategy_pivot_rate": (cue_pattern(STRATEGY_PIVOT_CUES), STRATEGY_PIVOT_OPENING),
}

CUE_REGEXES: dict[str, tuple[re.Pattern[str], ...]] = {
    feature: tuple(re.compile(p) for p in patterns) for feature, patterns in CUE_PATTERNS.items()
}
TOKEN_RE = re.compile(TOKEN_PATTERN)
IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)
IDENTIFIER_HINT_RE = re.compile(IDENTIFIER_HINT_PATTERN)
