"""The embedded offline models: a scripted OpenAI-compatible server (see server.py).

Importing the package registers the models' run hooks (:mod:`usi.llm.hooks`): worker
processes are pointed at this process's server, and ``offline/flaky`` episodes record the
errors it committed. The hooks import the server and ``flaky`` only when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from usi.core.episode import Message
from usi.llm.hooks import ModelHooks, register_hooks
from usi.llm.offline.protocol import OFFLINE_PREFIX


def _worker_env() -> dict[str, str]:
    """Workers reach the offline models through this process's one server."""
    from usi.llm.offline.server import API_BASE_ENV, default_server

    return {API_BASE_ENV: default_server().api_base}


def _user_episode_metadata(
    model: str, domain: str, task_id: str, messages: Sequence[Message], seed: Any
) -> dict[str, Any]:
    """``offline/flaky``'s injected errors (ground truth for ``usi audit``); {} otherwise."""
    from usi.llm.offline.flaky import episode_metadata

    return episode_metadata(model, domain, task_id, messages, seed)


register_hooks(
    ModelHooks(
        prefix=OFFLINE_PREFIX,
        worker_env=_worker_env,
        user_episode_metadata=_user_episode_metadata,
    )
)
