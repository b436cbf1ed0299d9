"""The three kinds of user simulator ``usi run`` can benchmark, all as τ² users.

(a) ``prompt``: τ²'s own :class:`~tau2.user.user_simulator.UserSimulator` (its guidelines
    prompt), optionally with a user-supplied prompt file replacing the guidelines and/or a
    persona file added to the scenario.
(b) ``roleflip``: models trained to *write user turns* (e.g. UserLM-8b) whose chat template
    puts the simulated user on the assistant side. The adapter sends only the user's intent
    as the system prompt (no τ² guidelines, which such models were not trained on), the
    agent's turns as ``user`` and its own as ``assistant``, and maps the model's
    end-of-conversation token to τ²'s ``###STOP###``.
(c) ``plugin``: any class named by a dotted path ``package.module:Class`` (or an entry point
    in the ``usi.simulators`` group). A subclass of τ²'s ``BaseUser`` is used as it is; any
    other class only needs ``reply(history) -> str`` (see :class:`SimulatorProtocol`).
"""

from __future__ import annotations

import importlib
from copy import deepcopy
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tau2.data_model.message import AssistantMessage, MultiToolMessage, SystemMessage, UserMessage
from tau2.user.base import STOP, BaseUser, UserState, ValidUserInputMessage
from tau2.user.user_simulator import UserSimulator
from tau2.utils.llm_utils import generate

from usi.errors import UsiInputError

SIMULATOR_KINDS = ("prompt", "roleflip", "plugin")
ENTRY_POINT_GROUP = "usi.simulators"
# End-of-conversation tokens of role-flipped user models, mapped to τ²'s stop token.
ROLEFLIP_END_TOKENS = ("<|endconversation|>", "<|endofconversation|>", "<|end_conversation|>")


@runtime_checkable
class SimulatorProtocol(Protocol):
    """What a plugin simulator implements when it is not a τ² ``BaseUser``.

    It is built as ``cls(instructions=..., llm=..., llm_args=...)`` — ``instructions`` is the
    τ² user scenario as text — and asked for each user turn with the conversation so far,
    ``[{"role": "agent" | "user", "content": str}, ...]``. Returning a text containing
    ``###STOP###`` ends the conversation. An optional ``answer_survey(prompt: str) -> str``
    lets it fill in the post-episode survey itself.
    """

    def reply(self, history: list[dict[str, str]]) -> str: ...


def read_text_file(path: str | Path, what: str) -> str:
    """A prompt or persona file's text; a missing, empty or binary file is bad input."""
    p = Path(path)
    if not p.is_file():
        raise UsiInputError(f"no such {what} file", p)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsiInputError(f"{what} file is not UTF-8 text", p) from None
    if not text.strip():
        raise UsiInputError(f"{what} file is empty", p)
    return text


def check_prompt_template(text: str, path: str | Path) -> None:
    """A user prompt may use ``{instructions}`` (and nothing else) as a placeholder."""
    try:
        text.format(instructions="", persona="")
    except (KeyError, IndexError, ValueError) as exc:
        raise UsiInputError(
            f"bad placeholder in user prompt ({exc}); only {{instructions}} and {{persona}} "
            "are allowed (double other braces: {{ }})",
            path,
        ) from None


@dataclass(frozen=True)
class SimulatorSpec:
    """How to build the user simulator of every episode of a run (picklable, for Ray)."""

    kind: str = "prompt"
    user_prompt: str | None = None  # replaces τ²'s guidelines; may contain {instructions}
    persona: str | None = None  # added to the scenario
    plugin: str | None = None  # "package.module:Class" or an entry-point name


class PromptUser(UserSimulator):
    """τ²'s user simulator with a user-supplied guidelines prompt and/or persona."""

    def __init__(
        self, *args: Any, user_prompt: str | None = None, persona: str | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self._user_prompt = user_prompt
        self._persona = persona

    @property
    def system_prompt(self) -> str:
        instructions = str(self.instructions)
        persona = f"\n\n<persona>\n{self._persona.strip()}\n</persona>" if self._persona else ""
        if self._user_prompt is None:
            return super().system_prompt + persona
        if "{instructions}" in self._user_prompt:
            return self._user_prompt.format(instructions=instructions, persona=persona.strip())
        return f"{self._user_prompt.strip()}\n\n<scenario>\n{instructions}\n</scenario>{persona}"


class _ScriptedTurnUser(BaseUser):
    """What the role-flip and plugin users share: τ²'s stop rule and recording the agent's turn."""

    @classmethod
    def is_stop(cls, message: UserMessage) -> bool:
        return UserSimulator.is_stop(message)

    @staticmethod
    def _record_incoming(message: ValidUserInputMessage, state: UserState) -> None:
        if isinstance(message, MultiToolMessage):
            state.messages.extend(message.tool_messages)
        else:
            state.messages.append(message)


class RoleFlipUser(_ScriptedTurnUser):
    """Adapter for user LMs whose chat template writes the user on the assistant side."""

    def __init__(
        self,
        instructions: str,
        llm: str,
        llm_args: dict[str, Any] | None = None,
        intent: str | None = None,
    ):
        super().__init__(instructions=instructions, llm=llm, llm_args=deepcopy(llm_args or {}))
        self.intent = intent or instructions

    @property
    def system_prompt(self) -> str:
        return self.intent

    def get_init_state(self, message_history: list[Any] | None = None) -> UserState:
        return UserState(
            system_messages=[SystemMessage(role="system", content=self.system_prompt)],
            messages=list(message_history or []),
        )

    def generate_next_message(
        self, message: ValidUserInputMessage, state: UserState
    ) -> tuple[UserMessage, UserState]:
        self._record_incoming(message, state)
        # flip_roles puts the agent on the "user" side and this simulator on the "assistant" side.
        reply = generate(
            model=self.llm, messages=state.system_messages + state.flip_roles(), **self.llm_args
        )
        text = reply.content or ""
        for token in ROLEFLIP_END_TOKENS:
            if token in text:
                text = text.replace(token, "").strip() + f" {STOP}"
        user_message = UserMessage(
            role="user", content=text.strip() or STOP, cost=reply.cost, usage=reply.usage
        )
        state.messages.append(user_message)
        return user_message, state


class PluginUser(_ScriptedTurnUser):
    """Wraps a :class:`SimulatorProtocol` object as a τ² user."""

    def __init__(self, impl: Any, instructions: str):
        super().__init__(instructions=instructions)
        self.impl = impl

    def get_init_state(self, message_history: list[Any] | None = None) -> UserState:
        return UserState(system_messages=[], messages=list(message_history or []))

    def generate_next_message(
        self, message: ValidUserInputMessage, state: UserState
    ) -> tuple[UserMessage, UserState]:
        self._record_incoming(message, state)
        history = [
            {
                "role": "agent" if isinstance(m, AssistantMessage) else "user",
                "content": m.content or "",
            }
            for m in state.messages
            if isinstance(m, AssistantMessage | UserMessage) and (m.content or "").strip()
        ]
        text = str(self.impl.reply(history) or "").strip() or STOP
        user_message = UserMessage(role="user", content=text)
        state.messages.append(user_message)
        return user_message, state

    def set_seed(self, seed: int) -> None:
        setter = getattr(self.impl, "set_seed", None)
        if callable(setter):
            setter(seed)


def load_plugin(reference: str) -> type:
    """The class named by ``package.module:Class`` / ``package.module.Class`` or an entry point."""
    for entry in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == reference:
            loaded = entry.load()
            if isinstance(loaded, type):
                return loaded
            raise UsiInputError(f"entry point {reference!r} is not a class", where="--user-plugin")
    module_name, sep, attr = reference.partition(":")
    if not sep:
        module_name, _, attr = reference.rpartition(".")
    if not module_name or not attr:
        raise UsiInputError(
            f"bad plugin {reference!r}: write package.module:Class or an entry-point name "
            f"of group {ENTRY_POINT_GROUP!r}",
            where="--user-plugin",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsiInputError(
            f"cannot import plugin module {module_name!r}: {exc}", where="--user-plugin"
        ) from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise UsiInputError(
            f"plugin {reference!r}: {module_name} has no class {attr!r}", where="--user-plugin"
        )
    if not issubclass(cls, BaseUser) and not callable(getattr(cls, "reply", None)):
        raise UsiInputError(
            f"plugin {reference!r} is neither a τ² BaseUser nor has a reply(history) method",
            where="--user-plugin",
        )
    return cls


def build_user(
    spec: SimulatorSpec,
    *,
    instructions: str,
    llm: str | None,
    llm_args: dict[str, Any],
    tools: list[Any] | None,
    intent: str | None = None,
) -> BaseUser:
    """The τ² user object of one episode."""
    if spec.kind == "prompt":
        return PromptUser(
            tools=tools,
            instructions=instructions,
            llm=llm,
            llm_args=llm_args,
            user_prompt=spec.user_prompt,
            persona=spec.persona,
        )
    if spec.kind == "roleflip":
        if llm is None:
            raise UsiInputError("the roleflip simulator needs --user-model", where="--user-kind")
        return RoleFlipUser(instructions=instructions, llm=llm, llm_args=llm_args, intent=intent)
    if spec.kind == "plugin":
        if not spec.plugin:
            raise UsiInputError("--user-kind plugin needs --user-plugin", where="--user-plugin")
        cls = load_plugin(spec.plugin)
        if issubclass(cls, BaseUser):
            user: BaseUser = cls(tools=tools, instructions=instructions, llm=llm, llm_args=llm_args)
            return user
        return PluginUser(cls(instructions=instructions, llm=llm, llm_args=llm_args), instructions)
    raise UsiInputError(
        f"unknown simulator kind {spec.kind!r} (known: {', '.join(SIMULATOR_KINDS)})"
    )


def user_system_prompt(user: BaseUser) -> str | None:
    """The simulator's own system prompt, reused when it answers the survey."""
    prompt = getattr(user, "system_prompt", None)
    return prompt if isinstance(prompt, str) else None
