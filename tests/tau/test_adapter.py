"""usi.tau: the one τ² adapter (tasks, tool signatures, messages, control tokens, set-up)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usi.core.episode import Message, ToolCall
from usi.tau import messages as tau_messages
from usi.tau.messages import CONTROL_TOKENS, from_tau, strip_control_tokens, to_tau
from usi.tau.tasks import DOMAINS, domain_tasks, scenario_texts, string_parameters

SRC = Path(__file__).resolve().parents[2] / "src"


def test_control_tokens_are_tau2s() -> None:
    from tau2.user.base import OUT_OF_SCOPE, STOP, TRANSFER

    assert CONTROL_TOKENS == (STOP, TRANSFER, OUT_OF_SCOPE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("###STOP###", ("", "###STOP###")),
        ("Thanks, bye. ###STOP###", ("Thanks, bye.", "###STOP###")),
        ("please transfer me ###TRANSFER###", ("please transfer me", "###TRANSFER###")),
        ("###OUT-OF-SCOPE###", ("", "###OUT-OF-SCOPE###")),
        ("###STOP### then ###TRANSFER###", ("then", "###TRANSFER###")),  # the last one ended it
        ("  no token here ", ("  no token here ", None)),  # untouched
        ("# STOP #", ("# STOP #", None)),
    ],
)
def test_strip_control_tokens(text: str, expected: tuple[str, str | None]) -> None:
    assert strip_control_tokens(text) == expected


def test_from_tau_drops_token_only_turns_and_records_the_ending() -> None:
    from tau2.data_model.message import (
        AssistantMessage,
        MultiToolMessage,
        SystemMessage,
        ToolMessage,
        UserMessage,
    )
    from tau2.data_model.message import ToolCall as TauCall

    trajectory = [
        SystemMessage(role="system", content="policy"),
        AssistantMessage(role="assistant", content="Hi!"),
        UserMessage(role="user", content="cancel order #W1"),
        AssistantMessage(
            role="assistant",
            tool_calls=[
                TauCall(id="c1", name="a", arguments={"x": 1}),
                TauCall(id="c2", name="b", arguments={}),
            ],
        ),
        MultiToolMessage(
            role="tool",
            tool_messages=[
                ToolMessage(id="c1", role="tool", content="ok"),
                ToolMessage(id="c2", role="tool", content="fine"),
            ],
        ),
        AssistantMessage(role="assistant", content="Done."),
        UserMessage(role="user", content="###STOP###"),
    ]
    converted = from_tau(trajectory)
    assert converted.ended_by == "###STOP###"
    assert [(m.role, m.content, m.tool_call_id) for m in converted.messages] == [
        ("assistant", "Hi!", None),
        ("user", "cancel order #W1", None),
        ("assistant", "", None),
        ("tool", "ok", "c1"),
        ("tool", "fine", "c2"),
        ("assistant", "Done.", None),
    ]
    assert converted.messages[2].tool_calls == [
        ToolCall(id="c1", name="a", arguments={"x": 1}),
        ToolCall(id="c2", name="b", arguments={}),
    ]
    # Back to τ²: the token is where τ² put it, as the simulator's own last message.
    back = to_tau(converted.messages, converted.ended_by)
    assert back[-1].role == "user" and back[-1].content == "###STOP###"


_text = st.text(alphabet="abc xyz,.!?", max_size=12)
_call = st.builds(
    ToolCall,
    id=st.sampled_from(["c1", "c2", "c3"]),
    name=st.sampled_from(["get_user", "cancel"]),
    arguments=st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), max_size=2),
)


@st.composite
def _conversation(draw: st.DrawFn) -> tuple[list[Message], str | None]:
    """A τ²-shaped canonical conversation: agent and user alternate, tools after calls."""
    out: list[Message] = []
    for _ in range(draw(st.integers(0, 5))):
        calls = draw(st.lists(_call, max_size=2))
        if calls:
            out.append(Message(role="assistant", content="", tool_calls=calls))
            out += [Message(role="tool", content=draw(_text), tool_call_id=c.id) for c in calls]
        out.append(Message(role="assistant", content=draw(_text).strip() or "ok"))
        out.append(Message(role="user", content=draw(_text).strip() or "hm"))
    if draw(st.booleans()) and out:
        out.pop()  # the conversation may end on the agent's turn
    ending = draw(st.sampled_from([None, *CONTROL_TOKENS]))
    return out, ending


@settings(max_examples=60, deadline=None)
@given(_conversation())
def test_canonical_to_tau_and_back_is_the_identity(
    conversation: tuple[list[Message], str | None],
) -> None:
    messages, ending = conversation
    converted = from_tau(to_tau(messages, ending))
    assert converted.messages == messages
    assert converted.ended_by == ending


def test_tasks_once_per_domain() -> None:
    assert DOMAINS == ("airline", "retail")
    assert len(domain_tasks("airline")) == 50 and len(domain_tasks("retail")) == 114
    assert domain_tasks("retail") is domain_tasks("retail")  # cached
    assert "mei_kovacs_8020" in scenario_texts("retail")["0"] or scenario_texts("retail")["0"]
    assert scenario_texts("telecom") == {}


def test_string_parameters_from_tau2_signatures() -> None:
    retail = string_parameters("retail")
    assert retail["find_user_id_by_name_zip"] == frozenset({"first_name", "last_name", "zip"})
    airline = string_parameters("airline")
    assert "user_id" in airline["book_reservation"]
    assert "total_baggages" not in airline["book_reservation"]  # an int stays JSON-decoded
    assert string_parameters("telecom") == {}


def test_no_private_tau2_api() -> None:
    """usi reads τ² through its public API (no more ``RetailTools(None)._func_tools``)."""
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "._func_tools" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_setup_keeps_other_handlers_and_silences_tau2() -> None:
    from loguru import logger

    from usi.tau.env import setup_environment

    seen: list[str] = []
    handler = logger.add(lambda message: seen.append(message.record["name"] or ""), level="DEBUG")
    try:
        setup_environment()
        # A message logged from inside a module of the tau2 package:
        exec("logger.info('from tau2')", {"__name__": "tau2.registry", "logger": logger})
        logger.info("from the host application")
    finally:
        logger.remove(handler)
    assert seen == [__name__]  # the host's handler still works; τ²'s message is off
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_setup_sets_the_bulk_collector_thresholds() -> None:
    import gc

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # Python's default
        from usi.tau.env import setup_environment

        setup_environment()
        assert gc.get_threshold() == (100_000, 10, 50)
    finally:
        gc.set_threshold(*saved)


def test_importing_the_cli_changes_no_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    env["PYTHONPATH"] = str(SRC)
    code = (
        "import gc, os, usi.cli, usi.tau, usi.tau.env, usi.data.readers;"
        "print(os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP'), gc.get_threshold())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "None (700, 10, 10)"  # nor the collector's thresholds


def _imports(path: Path) -> set[str]:
    """usi modules ``path`` imports anywhere (module level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("usi"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("usi"))
    return found


def _module_graph() -> dict[str, set[str]]:
    modules = {
        ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): path
        for path in SRC.rglob("*.py")
    }
    return {name: _imports(path) & set(modules) for name, path in modules.items()}


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("usi.data.readers", "usi.data.tau_usi"),
        ("usi.data.readers", "usi.tau.results"),
        ("usi.run.cpu", "usi.run.episode"),
        ("usi.llm.models", "usi.llm.offline.server"),
    ],
)
def test_no_import_cycle(a: str, b: str) -> None:
    graph = _module_graph()
    assert not (_reaches(graph, a, b) and _reaches(graph, b, a))


def test_message_module_does_not_import_tau2_at_import() -> None:
    """Reading a canonical file must not pay τ²'s import: the converter imports it lazily."""
    tree = ast.parse(Path(tau_messages.__file__).read_text(encoding="utf-8"))
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not any((getattr(n, "module", None) or "").startswith("tau2") for n in top_level)
