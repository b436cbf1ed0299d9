"""What the offline server and its clients agree on: model names, roles and request headers.

Kept apart from both sides so that :mod:`usi.llm.models` (which starts the server) and
:mod:`usi.llm.offline.server` (which reads the headers) do not import each other.
"""

from __future__ import annotations

OFFLINE_PREFIX = "offline/"
# Offline model name → the role it was written to play.
OFFLINE_MODELS: dict[str, str] = {
    "oracle": "agent",
    "cooperative": "user",
    "terse": "user",
    "flaky": "user",  # commits the audit's error kinds on purpose (usi.llm.offline.flaky)
}
TASK_HEADER = "X-USI-Task"
ROLE_HEADER = "X-USI-Role"
ROLES = ("agent", "user", "survey", "judge", "quality")
