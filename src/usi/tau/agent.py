"""τ²'s own ``LLMAgent`` in a domain environment: the agent of ``usi run`` and of the study.

Both sides run τ²'s agent unmodified, with the environment's tools and policy; only how its
turns are driven differs (τ²'s orchestrator in ``usi run``, one visible reply per request in
the study's web app), so building it and the τ² messages around it live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from usi.tau.environment import schema_cached_tools

if TYPE_CHECKING:
    from tau2.agent.llm_agent import LLMAgent
    from tau2.data_model.message import Message as TauMessage
    from tau2.data_model.message import ToolMessage
    from tau2.environment.environment import Environment

# What the study shows when τ² has no first agent message of its own.
GREETING = "Hi! How can I help you today?"


def llm_agent(
    environment: Environment,
    llm: str | None,
    llm_args: dict[str, Any],
    *,
    cache_schemas_of: str | None = None,
) -> LLMAgent:
    """τ²'s ``LLMAgent`` with ``environment``'s tools and policy.

    ``cache_schemas_of``: the domain whose tool schemas are computed once per process
    (:func:`usi.tau.environment.schema_cached_tools`; what ``usi run`` does under load).
    """
    from tau2.agent.llm_agent import LLMAgent

    tools = environment.get_tools()
    if cache_schemas_of is not None:
        tools = schema_cached_tools(cache_schemas_of, tools)
    return LLMAgent(tools=tools, domain_policy=environment.get_policy(), llm=llm, llm_args=llm_args)


def user_tools(environment: Environment) -> list[Any] | None:
    """The environment's user tools; None when the domain has none (or cannot list them)."""
    try:
        return list(environment.get_user_tools()) or None
    except Exception:
        return None


def first_agent_message() -> str:
    """τ²'s own first agent message, so the study's transcripts look like ``tau2 run``'s."""
    from tau2.orchestrator.orchestrator import DEFAULT_FIRST_AGENT_MESSAGE

    return str(DEFAULT_FIRST_AGENT_MESSAGE.content or GREETING)


def tool_results_message(results: Sequence[ToolMessage]) -> TauMessage:
    """What the agent receives after its tool calls: the one result, or τ²'s bundle of them."""
    from tau2.data_model.message import MultiToolMessage

    if len(results) == 1:
        return results[0]
    return MultiToolMessage(role="tool", tool_messages=list(results))
