"""``role_confusion``: the user speaks as the agent.

Rule: a user turn contains a phrase only the agent's side of a customer-service chat says —
offering help ("how can I help you", "I'd be happy to help you"), apologising for the
inconvenience, "let me check that for you", "thank you for your patience", or claiming to
have run the agent's actions ("I have cancelled your reservation", "your refund has been
processed"). The cues are the fingerprint's identity-confusion lexicon
(:data:`usi.fingerprint.lexicons.IDENTITY_CONFUSION_CUES`, one place for the shared part)
plus the action claims below. Evidence: the matched phrase.
"""

from __future__ import annotations

from collections.abc import Iterator

from usi.audit.models import AuditError
from usi.audit.view import Cues, EpisodeView
from usi.fingerprint.lexicons import IDENTITY_CONFUSION_CUES

_DONE = (
    r"(?:cancell?ed|processed|updated|modified|booked|issued|refunded|exchanged|returned"
    r"|changed|placed|initiated|submitted)"
)
_OBJECT = r"(?:reservation|order|booking|refund|exchange|return|flight|request|account|items?)"
#: Agent-side phrases beyond the fingerprint's lexicon: help offers and action claims.
ROLE_CUES: tuple[str, ...] = (
    r"i can (?:certainly )?help you with (?:that|this)",
    r"happy to help you",
    r"what can i do for you",
    r"(?:i )?apologi[sz]e for (?:the|any) (?:inconvenience|confusion)",
    r"sorry for the inconvenience",
    r"let me (?:check|look) (?:into )?(?:that|this|it|your \w+) for you",
    r"one moment while i (?:check|look|pull)",
    rf"i(?:'ve| have) (?:successfully |now |just )?{_DONE} (?:your|the) {_OBJECT}",
    rf"your {_OBJECT} (?:has|have) (?:now )?been (?:successfully )?{_DONE}",
)
ROLE = Cues((*IDENTITY_CONFUSION_CUES, *ROLE_CUES))


def check(view: EpisodeView) -> Iterator[AuditError]:
    for turn in view.turns:
        clean = turn.clean
        match = ROLE.search(clean.replace("’", "'") if "’" in clean else clean)
        if match is not None:
            yield AuditError(kind="role_confusion", turn=turn.turn, evidence=match)
