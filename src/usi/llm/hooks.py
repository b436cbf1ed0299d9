"""What a family of models adds to the runs that use it, registered by the family itself.

``usi run`` treats every model alike; a few families need more from the run than a litellm
call. The offline models are served by one local server that worker processes must be told
about, and ``offline/flaky`` knows which errors it committed in an episode (the audit's
ground truth). Such a family registers :class:`ModelHooks` here when its package is imported
(:mod:`usi.llm.offline` does; :mod:`usi.llm.models`, which every model goes through, imports
it), and the runner asks this registry — it never imports a family's modules itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from usi.core.episode import Message

# (model, domain, task id, canonical messages, the model's seed) → extra episode metadata
EpisodeMetadata = Callable[[str, str, str, "Sequence[Message]", Any], dict[str, Any]]


@dataclass(frozen=True)
class ModelHooks:
    """The hooks of the models whose name starts with ``prefix`` (each hook optional)."""

    prefix: str
    # Environment variables a worker process needs to reach these models.
    worker_env: Callable[[], dict[str, str]] | None = None
    # Metadata of an episode in which one of these models played the user.
    user_episode_metadata: EpisodeMetadata | None = None


_REGISTRY: dict[str, ModelHooks] = {}


def register_hooks(hooks: ModelHooks) -> None:
    """Register (or replace) the hooks of a model family; idempotent."""
    _REGISTRY[hooks.prefix] = hooks


def hooks_of(model: str | None) -> ModelHooks | None:
    """The hooks of ``model``'s family, None when it registered none."""
    if not model:
        return None
    return next((h for p, h in _REGISTRY.items() if model.startswith(p)), None)


def worker_env(models: Iterable[str | None]) -> dict[str, str]:
    """The environment a worker process needs for ``models`` (each family asked once)."""
    env: dict[str, str] = {}
    asked: set[str] = set()
    for model in models:
        hooks = hooks_of(model)
        if hooks is None or hooks.worker_env is None or hooks.prefix in asked:
            continue
        asked.add(hooks.prefix)
        env.update(hooks.worker_env())
    return env


def user_episode_metadata(
    model: str | None, domain: str, task_id: str, messages: Sequence[Message], seed: Any
) -> dict[str, Any]:
    """Extra metadata the user model's family records on an episode ({} for most models)."""
    hooks = hooks_of(model)
    if model is None or hooks is None or hooks.user_episode_metadata is None:
        return {}
    return hooks.user_episode_metadata(model, domain, task_id, messages, seed)
