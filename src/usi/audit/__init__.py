"""The simulator's own mistakes, and the agent failures they cause (``usi audit``).

Rule-based checks per episode (one module per kind in :mod:`usi.audit.rules`), a result
model (:mod:`usi.audit.models`), per-source summaries and the comparison with people that
``usi score`` and ``usi report`` show beside USI (:mod:`usi.audit.summary`).
"""

from usi.audit.models import (
    KINDS,
    AuditComparison,
    AuditError,
    EpisodeAudit,
    JudgeVerdict,
    KindRate,
    SideAudit,
)
from usi.audit.runner import audit_episode, audit_episodes, audit_file, by_source, summarise

__all__ = [
    "KINDS",
    "AuditComparison",
    "AuditError",
    "EpisodeAudit",
    "JudgeVerdict",
    "KindRate",
    "SideAudit",
    "audit_episode",
    "audit_episodes",
    "audit_file",
    "by_source",
    "summarise",
]
