"""The rule families, one module per error kind (each module's docstring is its rule).

Every rule module has ``check(view) -> list[AuditError]`` and ``skipped(view) -> list[str]``:
the checks (a kind, or ``kind:part`` for a part of one) that cannot run on this episode —
without an aligned τ² task there are no gold actions, without an instruction nothing to
compare identifiers or copied spans with, and on a transcript whose agent messages were
removed nobody knows what the agent said or did. A kind listed in ``skipped`` is not
checked at all; its parts listed there are not, the rest of it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from usi.audit.models import AuditError, Kind
from usi.audit.view import EpisodeView


@dataclass(frozen=True)
class Rule:
    kind: Kind
    check: Callable[[EpisodeView], list[AuditError]]
    skipped: Callable[[EpisodeView], list[str]]


@functools.cache
def all_rules() -> tuple[Rule, ...]:
    """The rules in table order."""
    from usi.audit.rules import empty, identifiers, leak, repetition, role, stop

    return (
        Rule("premature_stop", stop.check, stop.skipped),
        Rule("hallucinated_identifier", identifiers.check, identifiers.skipped),
        Rule("instruction_leak", leak.check, leak.skipped),
        Rule("role_confusion", role.check, _never),
        Rule("repetition_loop", repetition.check, _never),
        Rule("empty_turn", empty.check, _never),
    )


def _never(view: EpisodeView) -> list[str]:
    return []
