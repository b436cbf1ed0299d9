"""The paper's cue patterns (definitions ``tau-usi``, spec §10.3), exactly as published.

These regular expressions *are* the metric: a changed character changes every published
number. They are taken verbatim from the paper's scoring code as published in
``sunnweiwei/OdysSim``, ``agents/tau_usi/utils.py`` (Copyright 2025 OdysSim Authors,
Apache License 2.0; see the NOTICE file at the root of this project). Do not "fix" them here:
usi's own cue rules live in :mod:`usi.fingerprint.lexicons` (definitions ``usi-v2``).

Quirks kept on purpose (each counts in the reference, so it counts here):

- patterns are matched against the *lower-cased* turn, except the em/en-dash formality cue,
  which is matched on the original text;
- ``ID_DENSITY_RE`` counts any 6+ character lower-case alphanumeric word (``yesterday``
  is an "identifier"), because the text is lower-cased first;
- ``ACK_ONLY_RE`` counts "please" and "thank you" alone as acknowledgments.
"""

from __future__ import annotations

import re

AGENT_MARKUP_RE = re.compile(
    r"<\|think\|>.*?<\|/think\|>|<function=.*?(?:</function>|$)|<\|tool\|>.*?<\|/tool\|>",
    re.DOTALL,
)
POLITE_PATTERNS = re.compile(
    r"\b(please|thank you|thanks|sorry|excuse me|appreciate|grateful|"
    r"kind of you|wonderful|courteous|considerate|i understand|"
    r"no worries|my apologies|pardon)\b"
)
EMOTION_PATTERNS = re.compile(
    r"\b(frustrated|upset|angry|confused|worried|annoyed|furious|"
    r"ridiculous|terrible|horrible|awful|ugh|"
    r"stressed|anxious|nervous|uncomfortable|panic|disappointed|disappointing|"
    r"irritated|irritating|aggravated|outraged|outrageous|exasperated|"
    r"bothered|disgusted|miserable|devastated|heartbroken|desperate)\b"
)
EMDASH_RE = re.compile(r"[\u2014\u2013]")
ACK_ONLY_RE = re.compile(
    r"^(yes|yeah|yea|yep|yup|ok|okay|okey|sure|right|fine|great|perfect|"
    r"awesome|cool|agree|agreed|correct|absolutely|indeed|alright|"
    r"got it|go ahead|sounds good|that works|proceed|confirm|do it|"
    r"no problem|thank you|thanks|please|mhm|uh-huh|aight)[\s!.\-,]*$"
)
ID_DENSITY_RE = re.compile(
    r"(\b[a-z0-9]{6,}\b|#?\w*\d{5,}\w*|"
    r"\w+_\w+_\d{3,}|"
    r"gift_card_\w+|credit_card_\w+|paypal_\w+|"
    r"\w+@\w+\.\w+)"
)
UNCERTAINTY_RE = re.compile(
    r"\b(i think|not sure|i don'?t remember|i don'?t recall|i believe|probably|"
    r"maybe|i forgot|don'?t know|i guess|i'?m not sure|if i recall|"
    r"i don'?t have|can'?t recall|can'?t find|i'?m unsure|i might|"
    r"perhaps|apparently|sort of|kind of|somewhat|partly|possibly|"
    r"vaguely|roughly|hesitant|doubtful|confused|uncertain|dunno)\b"
)
CERTAINTY_RE = re.compile(
    r"\b(definitely|absolutely|certainly|exactly|precisely|clearly|always|"
    r"never|completely|entirely|fully|obvious|obviously|undoubtedly|"
    r"without a doubt|for sure|of course|guaranteed|no doubt)\b"
)
PUSHBACK_Q_RE = re.compile(
    r"\b(are you sure|that'?s (not right|wrong|incorrect|not what)|"
    r"i already (told|said|gave|provided|mentioned)|you already (asked|have)|"
    r"try again|check again|that can'?t be (right|correct)|"
    r"that'?s (crazy|nonsense|ridiculous|absurd)|this is (not fair|nonsense)|"
    r"why (can'?t|won'?t|didn'?t|isn'?t|aren'?t|would)|"
    r"doesn'?t (seem|sound|look|make sense)|not what i (asked|said|meant|wanted)|"
    r"do(n'?t| not) ask me .* again|i would never)\b"
)
CLARIFY_Q_RE = re.compile(
    r"\b(what do you mean|what does that mean|what did you mean|"
    r"could you (clarify|elaborate|specify)|can you (explain|clarify|elaborate)|"
    r"i don'?t understand|i dont understand|"
    r"what'?s the difference|whats the difference|"
    r"what exactly|what specifically|"
    r"which (one|reservation|order|flight|option|plan|account|item|product) (is|was|do|should|did|would)|"  # noqa: E501 (verbatim)
    r"i'?m not sure which|im not sure which|which is which|"
    r"you (said|mentioned|told me|wrote|indicated) .{0,30}\?|"
    r"that mean|what does that (involve|include|entail|look like)|"
    r"(sorry|wait),? (what|which|how|i don'?t)|"
    r"can you (be more specific|give me more detail|break that down|walk me through)|"
    r"i'?m (confused|lost)|im (confused|lost)|"
    r"(how|what) (exactly|specifically) (does|do|is|are|would|will|should)|"
    r"could you (repeat|say) that|can you (repeat|say) that|"
    r"what (is|are) the (options|choices|alternatives|details)|"
    r"i need (more|some) (info|information|details|clarification)|"
    r"(so|wait),? (you'?re saying|does that mean|is that)|"
    r"meaning\??|how so\??|in what (way|sense)\??)\b"
)
INFO_Q_RE = re.compile(
    r"\b(what is (the|my)|what'?s (the|my)|how much|how many|"
    r"when (will|does|is|can|did)|where (is|are|was|can)|"
    r"how (do|can|would|should) i|what are (the|my)|"
    r"can you (check|tell|find|look|see|show|help|list)|"
    r"do you (have|know|see)|is (there|it|that) (a |any )?|"
    r"what options|how long|what.s the (status|price|cost|total|balance))\b"
)
ACCUSATION_RE = re.compile(
    r"\b(blame|fault|ridiculous|wrong|useless|incompetent|failure|"
    r"misleading|irresponsible|unacceptable|disgrace|insult|"
    r"scam|shame|stupid|trouble|disappointing|ruined)\b"
)
PIVOT_RE = re.compile(
    r"\b((wait|actually) (can|let|could|would)|i('?d| would) (like|prefer|rather)|"
    r"(can you|can we|could you) just|"
    r"instead|rather than|how about|what about|what if|"
    r"on second thought|"
    r"is there (a |any |another )?way to|"
    r"(let'?s|can we|lets) (try|do|go with|switch|change)|"
    r"maybe (we|i|you) (should|could|can)|"
    r"(change|switch|try) (it |that )?(to|something|a different))\b"
)
ID_CONFUSE_RE = re.compile(
    r"\b(how can i (help|assist)|how may i (help|assist)|"
    r"what can i (do|help|assist) (for|with)|"
    r"do you (want|require|wish|prefer)|would you (like|prefer)|"
    r"let me (check|look|verify|find|pull up|search|assist|help)|"
    r"i('?ll| will) (check|look into|verify|process|handle|assist|help)|"
    r"i('?m| am) (happy|glad|here) to (help|assist)|"
    r"is there anything else i can|"
    r"thank you for (calling|contacting|reaching|choosing|your patience)|"
    r"for (security|verification) (purposes|reasons)|"
    r"(may|could) i (verify)|"
    r"allow me to|permit me to|"
    r"your (order|account|reservation|booking|request|ticket|case|inquiry)|"
    r"i (see|understand) (that|your)|"
    r"according to (our|the) (records|system|policy)|"
    r"(our|the) (policy|system|records) (shows?|indicates?)|"
    r"i (can|could) (offer|suggest|recommend)|"
    r"(have you|did you) (tried?|considered?)|"
    r"i apologize for (the|any) (inconvenience|confusion|delay|trouble))\b"
)
