"""τ² tasks, splits and tool signatures: loaded once per process, through τ²'s public API.

usi supports the two τ² domains the human study covered; :data:`DOMAINS` is the one list of
them. Tasks and splits come from each domain's public ``get_tasks`` / ``get_tasks_split``
(``tau2.domains.<domain>.environment``: the very functions τ²'s registry registers, without
importing the registry, which imports τ²'s agents and through them litellm — 1.5 s of CPU a
command that only reads a file should not pay). ``get_tasks(None)`` is every task of the
domain, whatever its split. Tool signatures come from
:func:`tau2.environment.toolkit.get_tool_signatures` on the domain's toolkit built without a
database (the signature does not depend on the data).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from usi.errors import UsiInputError

if TYPE_CHECKING:
    from tau2.data_model.tasks import Task

DOMAINS: tuple[str, ...] = ("airline", "retail")
SPLITS: tuple[str, ...] = ("test", "train", "base")
# τ²'s toolkit class of each domain (public classes of ``tau2.domains.<domain>.tools``).
_TOOLKITS: Mapping[str, tuple[str, str]] = {
    "airline": ("tau2.domains.airline.tools", "AirlineTools"),
    "retail": ("tau2.domains.retail.tools", "RetailTools"),
}


def check_domain(domain: str, where: str = "--domain") -> str:
    """``domain`` if usi supports it, else bad input naming the known ones."""
    if domain not in DOMAINS:
        raise UsiInputError(f"unknown domain {domain!r} (known: {', '.join(DOMAINS)})", where=where)
    return domain


def _environment_module(domain: str) -> Any:

    return importlib.import_module(f"tau2.domains.{check_domain(domain)}.environment")


@functools.cache
def domain_tasks(domain: str) -> Mapping[str, Task]:
    """Every τ² task of ``domain`` by τ² id, in τ²'s order (loaded once per process)."""
    tasks = _environment_module(domain).get_tasks(None)
    return {str(task.id): task for task in tasks}


@functools.cache
def task_splits(domain: str) -> Mapping[str, tuple[str, ...]]:
    """τ²'s named splits of ``domain`` (``test``, ``train``, ``base``) → task ids."""
    splits = _environment_module(domain).get_tasks_split()
    return {name: tuple(str(i) for i in ids) for name, ids in (splits or {}).items()}


def scenario_text(task: Any, *, with_persona: bool = False) -> str:
    """The user-side scenario of a τ² task as one text (what a simulator or person is told).

    τ² keeps it structured (reason for call, known and unknown info, task instructions) or,
    for older task sets, as one string; the parts are joined in that order. ``with_persona``
    puts the scenario's persona line first: everything the simulator reads, which is what the
    audit checks a leak against.
    """
    scenario = task.user_scenario
    instructions = scenario.instructions
    if isinstance(instructions, str):
        parts: tuple[str | None, ...] = (instructions,)
    else:
        parts = (
            instructions.reason_for_call,
            instructions.known_info,
            instructions.unknown_info,
            instructions.task_instructions,
        )
    if with_persona:
        parts = (getattr(scenario, "persona", None), *parts)
    return "\n".join(part for part in parts if part)


@functools.cache
def write_tools(domain: str) -> frozenset[str]:
    """Names of the tools of ``domain`` that change the database (τ²'s ``ToolType.WRITE``)."""
    try:
        module = importlib.import_module(f"tau2.domains.{domain}.tools")
        from tau2.environment.toolkit import TOOL_TYPE_ATTR, ToolKitBase, ToolType
    except ImportError:
        return frozenset()
    names: set[str] = set()
    for toolkit in vars(module).values():
        if not (inspect.isclass(toolkit) and issubclass(toolkit, ToolKitBase)):
            continue
        for name, member in inspect.getmembers(toolkit):
            if getattr(member, TOOL_TYPE_ATTR, None) == ToolType.WRITE:
                names.add(name)
    return frozenset(names)


@functools.cache
def scenario_texts(domain: str) -> Mapping[str, str]:
    """τ² task id → scenario text; an unsupported domain has none (not an error here)."""
    if domain not in DOMAINS:
        return {}
    return {task_id: scenario_text(task) for task_id, task in domain_tasks(domain).items()}


@functools.cache
def string_parameters(domain: str) -> Mapping[str, frozenset[str]]:
    """Per τ² tool of ``domain``, the parameters whose JSON schema is a string.

    That is a ``str`` or a ``Literal`` of strings in the tool's signature (an optional string
    is ``anyOf`` and not counted). An unsupported domain declares nothing.
    """
    if domain not in _TOOLKITS:
        return {}
    from tau2.environment.toolkit import get_tool_signatures

    module, name = _TOOLKITS[domain]
    toolkit = getattr(importlib.import_module(module), name)(None)
    declared: dict[str, frozenset[str]] = {}
    for tool_name, signature in get_tool_signatures(toolkit).items():
        properties = (signature.params or {}).get("properties", {})
        declared[tool_name] = frozenset(
            arg for arg, schema in properties.items() if schema.get("type") == "string"
        )
    return declared
