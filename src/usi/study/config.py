"""Settings of one study server (what ``usi study serve`` is given)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from usi.llm.quality import DEFAULT_KEEP_THRESHOLD
from usi.study.security import new_token
from usi.study.service.common import (
    DEFAULT_AGENT_TIMEOUT,
    DEFAULT_SESSION_TIMEOUT,
    DEFAULT_SURVEY_TIMEOUT,
    Timeouts,
)

DEFAULT_DB_URL = "sqlite:///study.db"
DEFAULT_BATCHES = 3
# Prolific's completion URL; ``{code}`` is replaced by the completion code.
DEFAULT_COMPLETION_URL = "https://app.prolific.com/submissions/complete?cc={code}"
# Named recruiter-id patterns for ``--pid-pattern`` (matched against the whole id).
PID_PRESETS = {"prolific": r"[0-9a-f]{24}"}
# New sessions per minute: from one client address, and over the whole server.
DEFAULT_STARTS_PER_ADDRESS = 10
DEFAULT_STARTS_PER_MINUTE = 300


@dataclass
class StudyConfig:
    """Everything the web app needs; the task list is resolved before the app starts."""

    db_url: str
    agent_model: str
    tasks: dict[str, list[str]]
    batches: int = DEFAULT_BATCHES
    agent_base_url: str | None = None
    judge_model: str | None = None
    judge_base_url: str | None = None
    admin_token: str = field(default_factory=new_token)
    keep_threshold: float = DEFAULT_KEEP_THRESHOLD
    session_timeout: timedelta = DEFAULT_SESSION_TIMEOUT
    survey_timeout: timedelta = DEFAULT_SURVEY_TIMEOUT
    agent_timeout: timedelta = DEFAULT_AGENT_TIMEOUT
    completion_code: str | None = None
    completion_url: str = DEFAULT_COMPLETION_URL
    secure_cookies: bool = False
    agent_workers: int = 4  # threads per agent process (LLM calls overlap)
    agent_processes: int = 1  # 0: agent work in the web process (tests, debugging)
    auto_judge: bool = True
    pid_pattern: str | None = None  # a regular expression or a PID_PRESETS name
    starts_per_address: int = DEFAULT_STARTS_PER_ADDRESS  # 0: unlimited
    starts_per_minute: int = DEFAULT_STARTS_PER_MINUTE  # 0: unlimited

    @property
    def domains(self) -> list[str]:
        return list(self.tasks)

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(self.session_timeout, self.survey_timeout, self.agent_timeout)

    def pid_regex(self) -> re.Pattern[str] | None:
        """The recruiter-id pattern (``re.error`` if it is not a valid expression)."""
        if not self.pid_pattern:
            return None
        return re.compile(PID_PRESETS.get(self.pid_pattern, self.pid_pattern))
