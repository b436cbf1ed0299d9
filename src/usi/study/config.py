"""Settings of one study server (what ``usi study serve`` is given)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from usi.study.judge import DEFAULT_KEEP_THRESHOLD
from usi.study.security import new_token

DEFAULT_DB_URL = "sqlite:///study.db"
DEFAULT_BATCHES = 3
DEFAULT_SESSION_TIMEOUT = timedelta(minutes=60)
# Prolific's completion URL; ``{code}`` is replaced by the completion code.
DEFAULT_COMPLETION_URL = "https://app.prolific.com/submissions/complete?cc={code}"


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
    completion_code: str | None = None
    completion_url: str = DEFAULT_COMPLETION_URL
    secure_cookies: bool = False
    agent_workers: int = 4  # threads per agent process (LLM calls overlap)
    agent_processes: int = 1  # 0: agent work in the web process (tests, debugging)
    auto_judge: bool = True

    @property
    def domains(self) -> list[str]:
        return list(self.tasks)
