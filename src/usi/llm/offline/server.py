"""A local, deterministic, OpenAI-compatible chat-completions server for the offline models.

Why a real HTTP server rather than a mock inside litellm: the offline models must exercise the
exact path real models take (litellm → OpenAI client → HTTP, retries included), so a demo or a
CI run proves the chain a hosted model would use. It binds 127.0.0.1 on a free port
(stdlib ``ThreadingHTTPServer``, one thread per request).

Where it runs matters for throughput: in the runner's own process its request handling would
share the GIL with litellm and τ², so :func:`default_server` starts it in a child process
(``python -m usi.llm.offline.server``, ready handshake on stdout, gone when the parent's pipe
closes) and every runner process — threads, ``--backend process`` workers, local Ray workers —
talks to that one server (``USI_OFFLINE_API_BASE``), so counters and fault schedules are shared.
Tests that want a server they can poke in-process construct :class:`OfflineServer` directly.

Tests and benchmarks shape it with :class:`OfflineConfig`: a fixed latency per completion and
failure injection — HTTP 429/500, 401 (a provider refusing the key), hangs past the client's
timeout, or a garbled answer — by rate (seeded) or by schedule (the n-th request). The
environment variables ``USI_OFFLINE_LATENCY_MS`` and ``USI_OFFLINE_FAULTS`` configure the
default server, so worker processes (Ray) get the same behaviour.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.request import Request, urlopen

from usi.errors import UsiInputError
from usi.llm.offline import behaviour, flaky
from usi.llm.offline.protocol import OFFLINE_MODELS, ROLE_HEADER, TASK_HEADER

FAULT_KINDS = ("429", "500", "401", "timeout", "garbage")
FAULTS_ENV = "USI_OFFLINE_FAULTS"  # the faults to inject (the child server reads it)


@dataclass
class OfflineConfig:
    """Latency and failure injection of the offline server.

    ``fault_rates`` maps a fault kind to the chance that a request gets it; ``fault_schedule``
    maps a 1-based request number to the fault it gets (deterministic, for tests); with
    ``fault_roles`` only requests of those roles (``X-USI-Role``) can fail, and are counted.
    """

    latency_ms: float = 0.0
    fault_rates: dict[str, float] = field(default_factory=dict)
    fault_schedule: dict[int, str] = field(default_factory=dict)
    hang_s: float = 3.0
    seed: int = 0
    fault_roles: frozenset[str] | None = None  # only requests of these roles can fail (None: all)

    @classmethod
    def from_env(cls) -> OfflineConfig:
        latency = os.environ.get("USI_OFFLINE_LATENCY_MS", "0") or "0"
        config = parse_faults(os.environ.get(FAULTS_ENV, ""))
        try:
            config.latency_ms = float(latency)
        except ValueError:
            raise UsiInputError(
                f"not a number: {latency!r}", where="USI_OFFLINE_LATENCY_MS"
            ) from None
        return config

    def to_json(self) -> str:
        """The config as the child server process receives it on its command line."""
        return json.dumps(
            {
                "latency_ms": self.latency_ms,
                "fault_rates": self.fault_rates,
                "fault_schedule": {str(k): v for k, v in self.fault_schedule.items()},
                "hang_s": self.hang_s,
                "seed": self.seed,
                "fault_roles": sorted(self.fault_roles) if self.fault_roles is not None else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> OfflineConfig:
        data = json.loads(text)
        roles = data.get("fault_roles")
        return cls(
            latency_ms=float(data.get("latency_ms", 0.0)),
            fault_rates={str(k): float(v) for k, v in (data.get("fault_rates") or {}).items()},
            fault_schedule={int(k): str(v) for k, v in (data.get("fault_schedule") or {}).items()},
            hang_s=float(data.get("hang_s", 3.0)),
            seed=int(data.get("seed", 0)),
            fault_roles=frozenset(roles) if roles is not None else None,
        )


def parse_faults(spec: str, where: str = FAULTS_ENV) -> OfflineConfig:
    """Parse ``"429:0.1,500:0.05,timeout@3,garbage@5"``: ``kind:rate`` or ``kind@request``.

    ``where``: what the spec came from, the variable or the flag (``--offline-faults``)."""
    config = OfflineConfig()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if "@" in part:
            kind, _, at = part.partition("@")
            if kind not in FAULT_KINDS or not at.isdigit():
                raise UsiInputError(
                    f"bad fault {part!r} (kind@request, kinds: {FAULT_KINDS})", where=where
                )
            config.fault_schedule[int(at)] = kind
        elif ":" in part:
            kind, _, rate = part.partition(":")
            try:
                value = float(rate)
            except ValueError:
                value = -1.0
            if kind not in FAULT_KINDS or not 0.0 <= value <= 1.0:
                raise UsiInputError(
                    f"bad fault {part!r} (kind:rate, kinds: {FAULT_KINDS})", where=where
                )
            config.fault_rates[kind] = value
        else:
            raise UsiInputError(f"bad fault {part!r} (kind:rate or kind@request)", where=where)
    return config


class _QuietHTTPServer(ThreadingHTTPServer):
    """A client that disconnects mid-request (a killed ``usi run`` worker) is no error worth
    a traceback on the run's stderr; anything else is still reported."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class OfflineServer:
    """The server running in this process: its URL, its config, and counters tests can read."""

    def __init__(self, config: OfflineConfig | None = None) -> None:
        self.config = config or OfflineConfig()
        self.requests = 0
        self.eligible = 0
        self.faults_injected: dict[str, int] = {}
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, daemon=True, name="usi-offline"
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def set_latency(self, latency_ms: float) -> None:
        self.config.latency_ms = latency_ms

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "eligible": self.eligible,
                "faults_injected": dict(self.faults_injected),
            }

    def next_fault(self, role: str | None = None) -> str | None:
        """Count one completion request and decide whether it fails, and how."""
        with self._lock:
            self.requests += 1
            if self.config.fault_roles is not None and role not in self.config.fault_roles:
                return None
            self.eligible += 1  # the schedule counts only the requests that may fail
            fault = self.config.fault_schedule.get(self.eligible)
            if fault is None:
                for kind, rate in sorted(self.config.fault_rates.items()):
                    if self._rng.random() < rate:
                        fault = kind
                        break
            if fault is not None:
                self.faults_injected[fault] = self.faults_injected.get(fault, 0) + 1
            return fault


API_BASE_ENV = "USI_OFFLINE_API_BASE"  # a running server for worker processes to share
_READY = "USI-OFFLINE-READY"


class OfflineServerProcess:
    """A handle on the offline server running in a child process (or one attached by URL).

    Same surface as :class:`OfflineServer` — ``api_base``, ``requests``, ``faults_injected``,
    ``set_latency``, ``close`` — read and set over the server's ``/usi/*`` control routes.
    """

    def __init__(
        self,
        config: OfflineConfig | None = None,
        *,
        api_base: str | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.config = config or OfflineConfig()
        self._process: subprocess.Popen[str] | None = None
        if api_base is not None:  # attach: someone else owns the process
            self.api_base = api_base.rstrip("/")
            return
        self._process = subprocess.Popen(
            [sys.executable, "-m", "usi.llm.offline.server", "--config", self.config.to_json()],
            stdin=subprocess.PIPE,  # the child exits when this pipe closes (we exit or crash)
            stdout=subprocess.PIPE,
            text=True,
        )
        port = self._handshake(start_timeout_s)
        self.api_base = f"http://127.0.0.1:{port}/v1"
        atexit.register(self.close)

    def _handshake(self, timeout_s: float) -> int:
        assert self._process is not None and self._process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self._process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout_s)
        line = result[0].strip() if result else ""
        if not line.startswith(_READY):
            self.close()
            raise RuntimeError(f"offline server did not start (got {line!r})")
        return int(line.split()[1])

    @property
    def port(self) -> int:
        return int(self.api_base.rsplit(":", 1)[1].split("/", 1)[0])

    def _control(self, route: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = Request(
            f"{self.api_base}/usi/{route}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST" if data is not None else "GET",
        )
        with urlopen(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def stats(self) -> dict[str, Any]:
        return self._control("stats")

    @property
    def requests(self) -> int:
        return int(self.stats()["requests"])

    @property
    def eligible(self) -> int:
        return int(self.stats()["eligible"])

    @property
    def faults_injected(self) -> dict[str, int]:
        return dict(self.stats()["faults_injected"])

    def set_latency(self, latency_ms: float) -> None:
        self.config.latency_ms = latency_ms
        self._control("config", {"latency_ms": latency_ms})

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


AnyOfflineServer = OfflineServer | OfflineServerProcess
_default: AnyOfflineServer | None = None
_default_lock = threading.Lock()


def default_server() -> AnyOfflineServer:
    """The offline server this process uses, started on first use (config from the environment).

    With ``USI_OFFLINE_API_BASE`` set (worker processes of a run) it attaches to that server;
    otherwise it starts one in a child process, so serving completions costs the runner's
    process no CPU.
    """
    global _default
    with _default_lock:
        if _default is None:
            shared = os.environ.get(API_BASE_ENV)
            if shared:
                _default = OfflineServerProcess(OfflineConfig.from_env(), api_base=shared)
            else:
                _default = OfflineServerProcess(OfflineConfig.from_env())
        return _default


def set_default_server(server: AnyOfflineServer | None) -> AnyOfflineServer | None:
    """Swap the process-wide server (tests inject latency/faults); returns the previous one."""
    global _default
    with _default_lock:
        previous, _default = _default, server
        return previous


def _words(payload: Any) -> int:
    return len(json.dumps(payload, ensure_ascii=False).split())


def complete(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """One scripted chat completion (OpenAI response shape)."""
    model = str(body.get("model", "")).removeprefix("openai/").removeprefix("offline/")
    if model not in OFFLINE_MODELS:
        raise LookupError(f"unknown offline model {model!r}")
    messages: list[dict[str, Any]] = list(body.get("messages") or [])
    role = headers.get(ROLE_HEADER.lower()) or OFFLINE_MODELS[model]
    task_key = headers.get(TASK_HEADER.lower())
    if role == "quality":
        message: dict[str, Any] = {"content": behaviour.quality_reply(messages)}
    elif role in ("survey", "judge"):
        style = model if model != "oracle" else "cooperative"
        message = {"content": behaviour.survey_reply(style, messages)}
    else:
        if task_key:
            domain, _, task_id = task_key.partition("/")
        else:
            system = " ".join(
                str(m.get("content") or "") for m in messages if m.get("role") == "system"
            )
            found = behaviour.task_from_prompt(system)
            if found is None and model == "oracle":
                said = " ".join(
                    str(m.get("content") or "") for m in messages if m.get("role") == "user"
                )
                found = behaviour.task_from_prompt(said)
            if found is None:
                raise LookupError(f"no {TASK_HEADER} header and no known task in the system prompt")
            domain, task_id = found
        script = behaviour.task_script(domain, task_id)
        chat = [m for m in messages if m.get("role") != "system"]
        if model == "oracle":
            message = behaviour.oracle_reply(script, chat)
        elif model == "flaky":
            message = {"content": flaky.user_reply(script, chat, body.get("seed"))}
        else:
            message = {"content": behaviour.user_reply(model, script, chat, body.get("seed"))}
    tool_calls = message.get("tool_calls")
    prompt_tokens, completion_tokens = _words(messages), _words(message)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": message.get("content"),
                    "tool_calls": tool_calls,
                },
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server_ref: OfflineServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every completion — more than the whole orchestration costs.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # the server must stay quiet
        return

    def _send(
        self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/usi/stats"):
            self._send(200, self.server_ref.stats())
        elif self.path.rstrip("/").endswith("/models"):
            self._send(
                200,
                {"object": "list", "data": [{"id": m, "object": "model"} for m in OFFLINE_MODELS]},
            )
        else:
            self._send(200, {"status": "ok"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        if self.path.rstrip("/").endswith("/usi/config"):
            update = json.loads(raw)
            if "latency_ms" in update:
                self.server_ref.set_latency(float(update["latency_ms"]))
            self._send(200, {"latency_ms": self.server_ref.config.latency_ms})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        config = self.server_ref.config
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000.0)
        fault = self.server_ref.next_fault(self.headers.get(ROLE_HEADER))
        if fault == "429":
            self._send(
                429,
                {"error": {"message": "rate limited (injected)", "type": "rate_limit"}},
                {"retry-after-ms": "20"},
            )
            return
        if fault == "500":
            self._send(
                500, {"error": {"message": "server error (injected)"}}, {"retry-after-ms": "20"}
            )
            return
        if fault == "401":  # what a provider answers a wrong or missing key: never retried
            self._send(
                401,
                {"error": {"message": "invalid api key (injected)", "type": "auth_error"}},
            )
            return
        if fault == "timeout":
            time.sleep(config.hang_s)
        try:
            body = json.loads(raw)
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = complete(body, headers)
        except (LookupError, KeyError, ValueError) as exc:
            self._send(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
            return
        if fault == "garbage":
            response["choices"][0]["message"] = {
                "role": "assistant",
                "content": "I'd rather not say.",
            }
            response["choices"][0]["finish_reason"] = "stop"
        self._send(200, response)


def _warm() -> None:
    """Load τ²'s registry before the first completion needs it (off the request's clock)."""
    with contextlib.suppress(Exception):  # the first request will report it
        from usi.tau.environment import load_registry

        load_registry()


def main(argv: list[str] | None = None) -> None:
    """Child-process entry point: serve until the parent closes our stdin."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m usi.llm.offline.server")
    parser.add_argument("--config", default="{}", help="OfflineConfig as JSON")
    args = parser.parse_args(argv)
    from usi.tau.env import setup_environment

    setup_environment()  # τ²'s loader logs; the child must stay quiet
    server = OfflineServer(OfflineConfig.from_json(args.config))
    print(f"{_READY} {server.port}", flush=True)
    threading.Thread(target=_warm, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
    server.close()


if __name__ == "__main__":
    main()
