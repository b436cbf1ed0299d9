"""Run the rules over episodes and summarise them per source.

Deterministic and offline: the rules are regular expressions and set look-ups over one
episode at a time, so a corpus is audited as it is read (only the small results are kept)
and 20,000 episodes take seconds (``benchmarks/bench_audit.py``). τ² tasks are loaded once
per domain, on the first episode aligned to one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from usi.audit.models import KINDS, AuditError, AuditTally, EpisodeAudit, KindRate, SideAudit
from usi.audit.rules import all_rules
from usi.audit.tasks import task_facts
from usi.audit.view import EpisodeView
from usi.core.episode import HUMAN_SOURCE, Episode
from usi.data.readers import iter_episodes
from usi.inputs.sides import Screening, screen_episodes


def _run_rules(episode: Episode, first_only: bool = False) -> tuple[list[AuditError], list[str]]:
    """The errors every rule that can run on ``episode`` finds (in rule order; with
    ``first_only``, each rule's first), and the checks that could not run."""
    task = task_facts(episode.domain, episode.task_id) if episode.task_id is not None else None
    view = EpisodeView(episode, task)
    errors: list[AuditError] = []
    skipped: list[str] = []
    for rule in all_rules():
        if rule.skipped is not None:
            not_run = rule.skipped(view)
            if not_run:
                skipped.extend(not_run)
                if rule.kind in not_run:
                    continue
        found = rule.check(view)
        if not first_only:
            errors.extend(found)
        elif (first := next(found, None)) is not None:
            errors.append(first)
    return errors, skipped


def audit_episode(episode: Episode) -> EpisodeAudit:
    """Every rule that can run on ``episode``; the others are listed in ``skipped``."""
    errors, skipped = _run_rules(episode)
    errors.sort(key=lambda e: (e.turn, KINDS.index(e.kind)))
    return EpisodeAudit(
        episode_id=episode.episode_id,
        source=episode.source,
        task_id=episode.task_id,
        reward=episode.reward,
        errors=errors,
        skipped=skipped,
    )


def audit_episodes(episodes: Iterable[Episode]) -> Iterator[EpisodeAudit]:
    for episode in episodes:
        yield audit_episode(episode)


def audit_file(path: str | Path, screening: Screening | None = None) -> list[EpisodeAudit]:
    """The audit of the episodes of ``path`` (any format) that the shared input rules keep.

    The rules of ``usi score`` (:mod:`usi.inputs.sides`): failed runs are left out (they show
    the harness, not a user; counted in ``screening``), a repeated id is an error, a task τ²
    does not have is unaligned — so the audit counts the episodes the scores count. No
    episode left is bad input.
    """
    screening = screening or Screening(str(path))
    audits = list(audit_episodes(screen_episodes(iter_episodes(path), screening)))
    if not audits:
        raise screening.nothing_left("episodes")
    return audits


def _rate(flagged: int, checked: int) -> KindRate:
    return KindRate(flagged=flagged, checked=checked, rate=flagged / checked if checked else None)


def tally_episode(episode: Episode) -> AuditTally:
    """What ``episode``'s audit adds to its side's shares (``usi score``'s audit block):
    ``audit_episode(episode).tally()``, without building the audit it would drop: a kind is
    counted once per episode, so each rule stops at its first error."""
    errors, skipped = _run_rules(episode, first_only=True)
    return AuditTally.of(
        episode.source,
        {error.kind for error in errors},
        skipped,
        failed=episode.reward is not None and episode.reward == 0.0,
        judge_score=None,
    )


def summarise(audits: Iterable[EpisodeAudit | AuditTally], source: str) -> SideAudit:
    """Shares of episodes with each kind, with any, and of failed episodes with ≥ 1 error.

    A kind's share counts only the episodes on which its check ran (an unaligned episode
    cannot show a premature stop); "any" and the attributable failures count every episode.
    Audits or their tallies (:meth:`EpisodeAudit.tally`) give the same shares.
    """
    n = 0
    flagged = dict.fromkeys(KINDS, 0)
    checked = dict.fromkeys(KINDS, 0)
    skipped: dict[str, int] = {}
    any_error = failed = failed_with_error = 0
    judge_scores: list[float] = []
    for audit in audits:
        tally = audit if isinstance(audit, AuditTally) else audit.tally()
        n += 1
        kinds = tally.kinds
        for kind in KINDS:
            if kind not in tally.skipped:
                checked[kind] += 1
                flagged[kind] += kind in kinds
        for name in tally.skipped:
            skipped[name] = skipped.get(name, 0) + 1
        any_error += bool(kinds)
        if tally.failed:
            failed += 1
            failed_with_error += bool(kinds)
        if tally.judge_score is not None:
            judge_scores.append(tally.judge_score)
    return SideAudit(
        source=source,
        n_episodes=n,
        kinds={kind: _rate(flagged[kind], checked[kind]) for kind in KINDS},
        any_error=_rate(any_error, n),
        attributable_failures=_rate(failed_with_error, failed),
        skipped=skipped,
        judge_mean_score=sum(judge_scores) / len(judge_scores) if judge_scores else None,
        judge_scored=len(judge_scores),
    )


def by_source(audits: Iterable[EpisodeAudit]) -> dict[str, list[EpisodeAudit]]:
    """Audits grouped by source, people first, then simulators by name."""
    groups: dict[str, list[EpisodeAudit]] = {}
    for audit in audits:
        groups.setdefault(audit.source, []).append(audit)
    return {s: groups[s] for s in sorted(groups, key=lambda s: (s != HUMAN_SOURCE, s))}
