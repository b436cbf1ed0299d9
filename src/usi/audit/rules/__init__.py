"""The rule families, one module per error kind (each module's docstring is its rule).

Every rule module has ``check(view)``, which yields the errors it finds in order (whoever
needs only to know whether there is one stops at the first), and a rule that cannot always
run has ``skipped(view) -> list[str]``: the checks (a kind, or ``kind:part`` for a part of
one) that cannot run on this episode — without an aligned τ² task there are no gold
actions, without an instruction nothing to compare identifiers or copied spans with, and on
a transcript whose agent messages were removed nobody knows what the agent said or did. A
kind listed in ``skipped`` is not checked at all; its parts listed there are not, the rest
of it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from usi.audit.models import KINDS, AuditError, Kind
from usi.audit.view import EpisodeView

Skipped = Callable[[EpisodeView], list[str]]


@dataclass(frozen=True)
class Rule:
    kind: Kind
    check: Callable[[EpisodeView], Iterator[AuditError]]
    #: None for a rule that runs on every episode.
    skipped: Skipped | None


@functools.cache
def all_rules() -> tuple[Rule, ...]:
    """The rules in table order (:data:`~usi.audit.models.KINDS`'): one per kind, each named
    by the module that checks it."""
    from usi.audit.rules import empty, identifiers, leak, repetition, role, stop

    checks: dict[Kind, tuple[Callable[[EpisodeView], Iterator[AuditError]], Skipped | None]] = {
        "premature_stop": (stop.check, stop.skipped),
        "hallucinated_identifier": (identifiers.check, identifiers.skipped),
        "instruction_leak": (leak.check, leak.skipped),
        "role_confusion": (role.check, None),
        "repetition_loop": (repetition.check, None),
        "empty_turn": (empty.check, None),
    }
    return tuple(Rule(kind, *checks[kind]) for kind in KINDS)
