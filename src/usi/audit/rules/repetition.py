"""``repetition_loop``: the user says the same thing over and over.

Rule: the same normalised user message (lower-cased words, punctuation and control tokens
dropped) occurs :data:`LOOP_MIN_OCCURRENCES` or more times in the episode. Messages of fewer
than :data:`LOOP_MIN_WORDS` words are not counted: "yes", "ok" or "yes please" answering
several confirmation questions is how people talk, not a loop. One error per repeated
message, at the turn where it is said for the third time; evidence: the message.
"""

from __future__ import annotations

from collections.abc import Iterator

from usi.audit.models import AuditError
from usi.audit.view import EpisodeView

LOOP_MIN_OCCURRENCES = 3
LOOP_MIN_WORDS = 4


def check(view: EpisodeView) -> Iterator[AuditError]:
    seen: dict[str, int] = {}
    for turn in view.turns:
        if len(turn.tokens) < LOOP_MIN_WORDS:
            continue
        key = turn.joined  # tokens hold no space: equal strings are equal tokens
        count = seen[key] = seen.get(key, 0) + 1
        if count == LOOP_MIN_OCCURRENCES:
            yield AuditError(kind="repetition_loop", turn=turn.turn, evidence=turn.clean)
