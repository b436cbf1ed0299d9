"""The public names of ``usi.audit``: the one list (see :mod:`usi.exports`)."""

from usi.audit.models import (
    KINDS as KINDS,
    AuditComparison as AuditComparison,
    AuditError as AuditError,
    AuditTally as AuditTally,
    EpisodeAudit as EpisodeAudit,
    JudgeVerdict as JudgeVerdict,
    KindRate as KindRate,
    SideAudit as SideAudit,
)
from usi.audit.runner import (
    audit_episode as audit_episode,
    audit_episodes as audit_episodes,
    audit_file as audit_file,
    by_source as by_source,
    summarise as summarise,
    tally_episode as tally_episode,
)
