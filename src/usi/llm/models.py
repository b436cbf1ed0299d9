"""Model strings → the keyword arguments of ``litellm.completion``.

Every model, real or offline, goes through the same litellm call: the offline models are
plain ``openai/<name>`` models served by a local scripted server (:mod:`usi.llm.offline`),
so the whole chain — litellm, τ²'s agent and user, the environment, the evaluator and the
survey — is exercised exactly as with a hosted model. This module is a public contract: the
study web app builds its agent with :func:`completion_kwargs` too.

The offline server learns which task and which role a call is about from two request
headers, ``X-USI-Task: <domain>/<task id>`` and ``X-USI-Role: agent|user|survey|judge``
(it falls back to recognising the user scenario in the system prompt when they are absent).
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from usi.errors import UsiInputError
from usi.llm.offline.protocol import (
    OFFLINE_MODELS,
    OFFLINE_PREFIX,
    ROLE_HEADER,
    ROLES,
    TASK_HEADER,
)

__all__ = [
    "OFFLINE_MODELS",
    "OFFLINE_PREFIX",
    "ROLES",
    "ROLE_HEADER",
    "TASK_HEADER",
    "check_credentials",
    "completion_kwargs",
    "is_offline",
    "validate_model",
]

# OpenAI-compatible servers behind --*-base-url rarely check the key, but the client needs one.
_PLACEHOLDER_KEY = "usi-no-key"


def _litellm_providers() -> set[str]:
    import litellm

    return {str(getattr(p, "value", p)) for p in litellm.provider_list}


def is_offline(model: str) -> bool:
    """True for the embedded scripted models (``offline/oracle`` …)."""
    return model.startswith(OFFLINE_PREFIX)


def validate_model(model: str, where: str = "--model") -> None:
    """Raise :class:`UsiInputError` unless litellm (or usi's offline server) can serve ``model``.

    ``where``: the flag the model was given with (``--agent-model``, ``--judge-model``, …)."""
    name = model.strip()
    if not name:
        raise UsiInputError("empty model string", where=where)
    if is_offline(name):
        offline = name.removeprefix(OFFLINE_PREFIX)
        if offline not in OFFLINE_MODELS:
            known = ", ".join(OFFLINE_PREFIX + m for m in OFFLINE_MODELS)
            raise UsiInputError(f"unknown offline model {name!r} (known: {known})", where=where)
        if offline == "flaky":  # its rates come from the environment: check them up front
            from usi.llm.offline.flaky import current_rates

            current_rates()
        return
    if "/" in name:
        prefix = name.split("/", 1)[0]
        if prefix not in _litellm_providers():
            raise UsiInputError(
                f"unknown model prefix {prefix!r} in {name!r} (use a litellm provider such as "
                "openai/, anthropic/, hosted_vllm/, ollama/, or offline/)",
                where=where,
            )
        return
    import litellm

    if name not in litellm.model_cost:
        raise UsiInputError(
            f"model {name!r} has no provider prefix and litellm does not know it "
            f"(write it as provider/model, e.g. openai/{name})",
            where=where,
        )


def completion_kwargs(
    model: str,
    *,
    base_url: str | None = None,
    task: tuple[str, str] | None = None,
    role: str = "agent",
) -> dict[str, Any]:
    """The kwargs for ``litellm.completion`` (or τ²'s ``llm`` + ``llm_args``) for ``model``.

    ``task`` is ``(domain, task_id)``; only the offline models need it (the oracle replays
    that task's gold actions) and it is sent as a header. The first ``offline/…`` model
    starts the local offline server (:func:`usi.llm.offline.server.default_server`).
    """
    validate_model(model)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")  # usi's own bug
    if is_offline(model):
        from usi.llm.offline.server import default_server

        server = default_server()
        headers = {ROLE_HEADER: role}
        if task is not None:
            headers[TASK_HEADER] = f"{task[0]}/{task[1]}"
        return {
            "model": "openai/" + model.removeprefix(OFFLINE_PREFIX),
            "api_base": server.api_base,
            "api_key": "usi-offline",
            "extra_headers": headers,
        }
    kwargs: dict[str, Any] = {"model": model}
    if base_url:
        kwargs["api_base"] = base_url
        if model.startswith(("openai/", "hosted_vllm/")) and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = _PLACEHOLDER_KEY
    return kwargs


def check_credentials(model: str, *, base_url: str | None = None, where: str = "model") -> None:
    """Raise :class:`UsiInputError` when litellm can tell ``model`` has no credentials.

    Asked before the first episode, so a missing ``OPENAI_API_KEY`` costs one line and exit
    code 2 instead of a run of failed episodes. litellm's ``validate_environment`` knows each
    provider's variables; a key usi supplies itself (the placeholder for an OpenAI-compatible
    ``--base-url``) counts as present, and a missing endpoint variable (``OLLAMA_API_BASE``)
    is not a credential: the provider has a default.
    """
    if is_offline(model):
        return
    import litellm

    kwargs = completion_kwargs(model, base_url=base_url)
    report = litellm.validate_environment(
        model=kwargs["model"], api_key=kwargs.get("api_key"), api_base=kwargs.get("api_base")
    )
    if report.get("keys_in_environment", True):
        return
    missing = [
        str(key)
        for key in report.get("missing_keys") or []
        if not str(key).endswith(("_API_BASE", "_BASE_URL"))
    ]
    if missing:
        raise UsiInputError(f"no credentials for {model}: set {' or '.join(missing)}", where=where)


class CompletionKwargs(Protocol):
    """The shape of :func:`completion_kwargs` (litellm kwargs for a model name), so a caller can
    be given another resolver (a test's, a study's)."""

    def __call__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        task: tuple[str, str] | None = None,
        role: str = "agent",
    ) -> dict[str, Any]: ...


def default_completion_kwargs() -> CompletionKwargs:
    """The shared model resolver of ``usi run`` (offline/... models included)."""
    return completion_kwargs
