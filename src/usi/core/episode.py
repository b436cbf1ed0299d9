"""The canonical episode: the one interchange format every ``usi`` command reads and writes.

One JSON object per line (JSON Lines). Humans and simulators, tau-usi sessions and
``tau2 run`` results all become the same :class:`Episode`, so everything downstream
(fingerprint, metrics, report) is written once.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from usi.core.survey import validate_answer

Role = Literal["user", "assistant", "tool"]

HUMAN_SOURCE = "human"

# Control messages of the study protocol (spec §1): they are not user behaviour.
_CONTROL_PREFIXES: tuple[str, ...] = ("\\tau ", "\\reward")
_STOP_RE = re.compile(r"^\s*/stop\s*$", re.IGNORECASE)
SURVEY_SUBMISSION_MARKER = "<|survey|>"


class ToolCall(BaseModel):
    """A tool invocation made by the agent."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    """One message of the conversation, in the agent-centric roles of τ²."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class Episode(BaseModel):
    """One conversation between a user (person or simulator) and the agent on one task."""

    model_config = ConfigDict(extra="forbid")

    episode_id: str
    source: str = Field(description='"human" or the simulator\'s name')
    # Bounded to what a table column (int64) holds: 10**40 was an OverflowError in score.
    batch: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    domain: str
    task_id: str | None = Field(default=None, description="τ² task id; null if unaligned")
    messages: list[Message]
    # Finite only: Infinity, NaN and 1e999 are no reward, and no JSON either (they were
    # printed bare by ``audit --json`` and silently written as null by ``data convert``).
    reward: float | None = Field(default=None, allow_inf_nan=False)
    survey: dict[str, str] | None = Field(
        default=None, description="survey item id → chosen option label (spec §5)"
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("task_id", mode="before")
    @classmethod
    def _task_id_as_text(cls, value: Any) -> Any:
        # τ² ids are strings ("20"); accept ints from hand-written files.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("survey")
    @classmethod
    def _known_answers(cls, survey: dict[str, str] | None) -> dict[str, str] | None:
        if survey is not None:
            for item_id, answer in survey.items():
                validate_answer(item_id, answer)
        return survey

    @property
    def is_human(self) -> bool:
        return self.source == HUMAN_SOURCE

    @property
    def infrastructure_error(self) -> str | None:
        """Why the run failed outside the conversation (``metadata["error"]``), else None.

        A provider or auth error, a timeout after retries or a crash shows the harness, not
        a user: such an episode is never scored as behaviour (see :mod:`usi.inputs.sides`).
        """
        error = self.metadata.get("error")
        if not error:  # absent, null or empty: the conversation ran
            return None
        return error if isinstance(error, str) else str(error)

    def user_turns(self) -> list[str]:
        """The user's messages that carry real content (spec §1).

        Empty messages and the study's control lines (the ``\\tau`` set-up, ``/stop``,
        ``\\reward``) are not behaviour, so no feature may count them.
        """
        return [m.content for m in self.messages if m.role == "user" and is_user_content(m.content)]


@functools.lru_cache(maxsize=32_768)
def is_user_content(text: str) -> bool:
    """True unless ``text`` is empty or a control message of the study protocol (spec §1).

    Control messages: the set-up line, ``/stop``, ``\\reward`` and the participant's survey
    submission (the ``<|survey|>`` form or a JSON object of answers). Cached by text: every
    table row counts its user turns, and people repeat theirs ("yes", "ok", "thanks").
    """
    stripped = text.strip()
    if not stripped:
        return False
    if stripped.startswith(_CONTROL_PREFIXES):
        return False
    if _STOP_RE.match(stripped):
        return False
    return not is_survey_submission(stripped)


def is_survey_submission(content: str) -> bool:
    """A participant message that carries the survey answers rather than speech."""
    if SURVEY_SUBMISSION_MARKER in content:
        return True
    stripped = content.strip()
    if not stripped.startswith("{"):
        return False
    try:
        record = json.loads(stripped)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and any(
        key in record for key in ("task_success", "overall_score", "human_like")
    )
