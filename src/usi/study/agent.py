"""The study's agent: τ²'s own ``LLMAgent`` acting in τ²'s own domain environment.

Given a session's stored trajectory (which ends with the participant's new message), the
agent produces its next visible message; tool calls it makes on the way run against the
τ² environment on the server, and every message (tool calls and results included) goes
back to the database. The participant sees only the agent's text.

The environment's state is a pure function of the task and the tool calls in the
trajectory, so after a restart it is rebuilt by replaying them (τ²'s
``Environment.set_state`` checks every replayed result); a small in-memory cache keeps
the live environment of recent sessions so a turn does not pay for the replay.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from usi.llm.models import CompletionKwargs, default_completion_kwargs
from usi.tau.agent import first_agent_message, llm_agent, tool_results_message
from usi.tau.environment import replayed_environment

if TYPE_CHECKING:
    from tau2.data_model.message import Message as TauMessage
    from tau2.environment.environment import Environment

# A reply needs at most this many agent steps (tool calls + the final message); τ²'s own
# orchestrator caps whole simulations at 100 steps, a single turn never needs this many.
MAX_AGENT_STEPS_PER_TURN = 30
ENV_CACHE_SIZE = 32  # ≈ 24 MB per airline environment
DEFAULT_TURN_TIMEOUT_S = 120.0


class AgentFailure(Exception):
    """The agent could not answer (LLM error, malformed tool call, step limit)."""


class StudyAgent(Protocol):
    """What the web app needs from an agent."""

    def greeting(self) -> str: ...

    def respond(
        self, session_key: int, domain: str, task_id: str, history: Sequence[TauMessage]
    ) -> list[TauMessage]: ...


@dataclass
class _CachedEnv:
    env: Environment
    tool_results: int


@dataclass
class TauStudyAgent:
    """τ²'s ``LLMAgent`` behind the study: one call = one visible agent reply."""

    model: str
    base_url: str | None = None
    resolver: CompletionKwargs | None = None
    max_steps: int = MAX_AGENT_STEPS_PER_TURN
    cache_size: int = ENV_CACHE_SIZE
    # The whole turn's budget: every LLM call gets what is left of it as litellm's
    # ``timeout``, and no new step starts after it (``usi study serve --agent-timeout``).
    timeout_s: float = DEFAULT_TURN_TIMEOUT_S
    _cache: OrderedDict[int, _CachedEnv] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def greeting(self) -> str:
        """τ²'s own first agent message, so transcripts look like ``tau2 run``'s."""
        return first_agent_message()

    def respond(
        self, session_key: int, domain: str, task_id: str, history: Sequence[TauMessage]
    ) -> list[TauMessage]:
        """The agent's new messages (tool calls, tool results, final text) after ``history``."""
        if not history:
            raise AgentFailure("empty conversation")
        deadline = time.monotonic() + self.timeout_s
        env = self._environment(session_key, domain, task_id, history)
        resolver = self.resolver or default_completion_kwargs()
        try:
            kwargs = dict(resolver(self.model, base_url=self.base_url, task=(domain, task_id)))
        except Exception as exc:
            raise AgentFailure(f"model {self.model!r}: {exc}") from exc
        model = str(kwargs.pop("model", self.model))
        kwargs["timeout"] = min(float(kwargs.get("timeout") or self.timeout_s), self.timeout_s)
        agent = llm_agent(env, model, kwargs)
        state = agent.get_init_state(message_history=list(history[:-1]))
        incoming: Any = history[-1]
        produced: list[TauMessage] = []
        tool_results = 0
        try:
            for _ in range(self.max_steps):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AgentFailure(f"no reply within {self.timeout_s:g} s")
                agent.llm_args["timeout"] = left
                reply, state = agent.generate_next_message(incoming, state)
                produced.append(reply)
                if not reply.is_tool_call():
                    if not (reply.content or "").strip():
                        raise AgentFailure("the agent sent an empty message")
                    self._remember(session_key, env, _count_tool_results(history) + tool_results)
                    return produced
                results = [env.get_response(call) for call in reply.tool_calls or []]
                tool_results += len(results)
                produced.extend(results)
                incoming = tool_results_message(results)
        except AgentFailure:
            self._forget(session_key)
            raise
        except Exception as exc:
            self._forget(session_key)
            raise AgentFailure(f"{type(exc).__name__}: {exc}") from exc
        self._forget(session_key)
        raise AgentFailure(f"no reply after {self.max_steps} agent steps")

    def _environment(
        self, session_key: int, domain: str, task_id: str, history: Sequence[TauMessage]
    ) -> Environment:
        expected = _count_tool_results(history)
        with self._lock:
            cached = self._cache.pop(session_key, None)
        if cached is not None and cached.tool_results == expected:
            return cached.env
        return replayed_environment(domain, task_id, history)

    def _remember(self, session_key: int, env: Environment, tool_results: int) -> None:
        with self._lock:
            self._cache[session_key] = _CachedEnv(env, tool_results)
            self._cache.move_to_end(session_key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _forget(self, session_key: int) -> None:
        with self._lock:
            self._cache.pop(session_key, None)


def _count_tool_results(history: Sequence[TauMessage]) -> int:
    return sum(1 for m in history if getattr(m, "role", None) == "tool")


AgentFactory = Callable[[str, "str | None"], StudyAgent]
