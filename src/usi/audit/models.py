"""The audit's result model: one list of simulator errors per episode, and their summaries.

An error is ``{"kind", "turn", "evidence"}``: ``turn`` is the 0-based index of the user
message among the episode's user messages (empty ones included, so an empty turn has an
index), ``evidence`` the offending span or, for a premature stop, the action left undone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, cast

from pydantic import BaseModel, ConfigDict, Field

from usi.core.mistakes import MISTAKE_KINDS, MistakeKind

#: An error's kind (:mod:`usi.core.mistakes` spells them, for the audit and offline/flaky).
Kind = MistakeKind
#: Every kind, in the order tables show them.
KINDS: tuple[Kind, ...] = MISTAKE_KINDS


class AuditError(BaseModel):
    """One mistake of the simulator (or person) playing the user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    turn: int = Field(description="0-based index of the user message")
    evidence: str = Field(description="the offending span, or the missing action")


class JudgeVerdict(BaseModel):
    """An LLM's 0–100 rating of instruction adherence (the study's quality judge)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    score: float | None = None
    reasoning: str = ""
    error: str | None = Field(default=None, description="why there is no score")


class AuditTally(NamedTuple):
    """What one episode's audit adds to its side's shares (:func:`usi.audit.summarise`).

    ``usi score`` keeps this, not the whole :class:`EpisodeAudit`, for each episode it reads:
    its audit block gives shares, not evidence, and a few immutable fields per episode (the
    same kinds and skipped checks shared between episodes) are lighter to hold, and to send
    back from a reading worker, than the errors with their quotes.
    """

    source: str
    kinds: frozenset[str]
    skipped: tuple[str, ...]
    failed: bool
    judge_score: float | None

    @classmethod
    def of(
        cls,
        source: str,
        kinds: Iterable[str],
        skipped: Iterable[str],
        failed: bool,
        judge_score: float | None,
    ) -> AuditTally:
        """The tally, its kinds and skipped checks shared with every tally that has them."""
        found = frozenset(kinds)
        missed = tuple(skipped)
        return cls(
            source,
            cast(frozenset[str], _SHARED.setdefault(found, found)),
            cast(tuple[str, ...], _SHARED.setdefault(missed, missed)),
            failed,
            judge_score,
        )


#: One object per distinct set of kinds or of skipped checks, shared by the tallies.
_SHARED: dict[object, object] = {}


class EpisodeAudit(BaseModel):
    """The audit of one episode: its errors and the checks that could not run on it."""

    model_config = ConfigDict(extra="forbid")

    episode_id: str
    source: str
    task_id: str | None
    reward: float | None
    errors: list[AuditError] = Field(default_factory=list)
    #: Checks not run, as ``kind`` or ``kind:part`` (e.g. ``premature_stop`` without a task).
    skipped: list[str] = Field(default_factory=list)
    judge: JudgeVerdict | None = None

    def kinds(self) -> set[str]:
        return {error.kind for error in self.errors}

    @property
    def failed(self) -> bool:
        """Reward 0: the agent failed the task (spec §4: reward is binary)."""
        return self.reward is not None and self.reward == 0.0

    def tally(self) -> AuditTally:
        """What this audit adds to its side's shares."""
        return AuditTally.of(
            self.source,
            self.kinds(),
            self.skipped,
            failed=self.failed,
            judge_score=self.judge.score if self.judge is not None else None,
        )


class KindRate(BaseModel):
    """How often one kind occurs on one side: episodes flagged among those checked."""

    model_config = ConfigDict(extra="forbid")

    flagged: int
    checked: int
    rate: float | None = Field(description="flagged / checked; null when nothing was checked")


class SideAudit(BaseModel):
    """The audit of one source (a simulator, or the people): shares of episodes."""

    model_config = ConfigDict(extra="forbid")

    source: str
    n_episodes: int
    kinds: dict[str, KindRate]
    any_error: KindRate
    #: Failed episodes (reward 0) that carry ≥ 1 error: agent failures attributable to the user.
    attributable_failures: KindRate
    #: check → episodes on which it was skipped (no aligned task, no instruction).
    skipped: dict[str, int] = Field(default_factory=dict)
    judge_mean_score: float | None = None
    judge_scored: int = 0


class AuditComparison(BaseModel):
    """A simulator's audit beside the human baseline (the ``audit`` block of ``usi score``)."""

    model_config = ConfigDict(extra="forbid")

    simulator: SideAudit
    human: SideAudit | None
    #: simulator rate − human rate per kind (null where either side checked nothing).
    excess: dict[str, float | None]
    definitions: str = "usi-audit-v1"
