"""τ²'s orchestrator with per-turn limits instead of a step budget (the paper's protocol).

τ²'s ``max_steps`` counts every message (tool results too); the paper's rollout limits user
turns and the agent's consecutive calls instead (:mod:`usi.run.paper`). This orchestrator
counts those, on top of τ²'s own loop, and ends the episode the way τ² ends one at its step
budget (termination reason ``max_steps``), saying which limit in :attr:`limit`:

- ``user_turns``: the user has answered the greeting and then spoken ``max_user_turns`` more
  times without stopping; the episode ends on that message, the agent does not answer it
  (as in the rollout, whose loop ends after the user's reply).
- ``tool_rounds``: the agent has sent ``max_tool_rounds`` messages in a row, each a tool call,
  and the last call's results are in. The rollout would hand the raw tool call to the
  simulator at that point; a τ² user cannot receive one, so the episode ends instead.
"""

from __future__ import annotations

from typing import Any

from tau2.data_model.simulation import TerminationReason
from tau2.orchestrator.orchestrator import Orchestrator, Role

USER_TURNS = "user_turns"
TOOL_ROUNDS = "tool_rounds"
# τ²'s own budgets are switched off: these limits decide.
UNLIMITED = 1 << 62


class TurnLimitedOrchestrator(Orchestrator):
    """An :class:`Orchestrator` that stops at a user-turn or a per-turn agent-call limit."""

    def __init__(self, *args: Any, max_user_turns: int, max_tool_rounds: int, **kwargs: Any):
        kwargs.setdefault("max_steps", UNLIMITED)
        kwargs.setdefault("max_errors", UNLIMITED)
        super().__init__(*args, **kwargs)
        self.max_user_turns = max_user_turns
        self.max_tool_rounds = max_tool_rounds
        self.user_messages = 0  # the answer to the greeting included
        self.agent_rounds = 0  # agent messages since the user last spoke
        self.limit: str | None = None

    def step(self) -> None:
        super().step()
        if self.done:
            return
        if self.from_role == Role.USER and self.to_role == Role.AGENT:
            self.user_messages += 1
            self.agent_rounds = 0
            if self.user_messages > self.max_user_turns:
                self._stop(USER_TURNS)
        elif self.from_role == Role.AGENT:
            self.agent_rounds += 1
        elif (
            self.from_role == Role.ENV
            and self.to_role == Role.AGENT
            and self.agent_rounds >= self.max_tool_rounds
        ):
            self._stop(TOOL_ROUNDS)

    def _stop(self, limit: str) -> None:
        self.done = True
        self.termination_reason = TerminationReason.MAX_STEPS
        self.limit = limit
