"""``usi study loadtest``: scripted participants driving the whole flow over HTTP.

What an operator runs before opening a study: N participants (at most K at once) each
open the entry link, consent, read the card, chat a few turns (re-sending one message with
the same client id to check idempotency), stop, answer the survey (and try to submit it
twice), and check that every message they sent is in their transcript exactly once.

Every HTTP request is timed on its own (redirects are not followed automatically). None of
them waits for the LLM — the agent answers in the background — so their latency is the
server's own; the time until the agent's reply shows up is reported separately.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from usi.core.survey import FREE_TEXT_ITEMS, SURVEY_ITEMS

AGENT_WAIT_S = 300.0
# What chat.js does while the agent is typing (``schedule(800)``): a scripted participant
# polling faster than any browser would load the server with requests no study sees.
POLL_INTERVAL_S = 0.8
REQUEST_TIMEOUT_S = 30.0
FOLLOW_UPS = ("Yes, please go ahead.", "Thank you, that is all.")

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_SUGGESTED = re.compile(r'id="suggested">(.*?)</p>', re.S)
_KNOWN = re.compile(r"<h3>What you know</h3>\s*<p class=\"scenario\">(.*?)</p>", re.S)
_CODE = re.compile(r'id="completion-code">([^<]+)<')


class ParticipantError(Exception):
    """One scripted participant hit something unexpected."""


@dataclass
class LoadtestResult:
    """Everything measured in one load test."""

    participants: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # The same, for the participants after the first wave only (those who did not all open
    # the link in the same instant): a burst of ``concurrency`` simultaneous arrivals queues
    # on one Python process, and this tells that queue from the steady state.
    after_first_wave: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    agent_waits: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completed: int = 0
    sent_messages: int = 0
    lost_messages: int = 0
    duplicated_messages: int = 0
    idempotency_checks: int = 0
    double_survey_rejected: int = 0
    wall_s: float = 0.0

    def all_latencies(self) -> list[float]:
        return [v for values in self.latencies.values() for v in values]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class _Participant:
    def __init__(
        self,
        client: httpx.AsyncClient,
        result: LoadtestResult,
        pid: str,
        turns: int,
        first_wave: bool = False,
    ):
        self.client = client
        self.result = result
        self.pid = pid
        self.turns = turns
        self.first_wave = first_wave
        self.csrf = ""

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One timed request, counted under its page (``GET /task``, ``POST /task``, …)."""
        start = time.perf_counter()
        response = await self.client.request(method, url, **kwargs)
        elapsed = time.perf_counter() - start
        self.result.latencies[f"{method} {url}"].append(elapsed)
        if not self.first_wave:
            self.result.after_first_wave[f"{method} {url}"].append(elapsed)
        return response

    async def page(self, url: str, expect: str | None = None) -> str:
        response = await self.request("GET", url)
        if response.status_code != 200:
            raise ParticipantError(f"GET {url}: HTTP {response.status_code}")
        if expect and expect not in response.text:
            raise ParticipantError(f"GET {url}: page lacks {expect!r}")
        return response.text

    async def form(self, url: str, data: dict[str, str], expect_location: str) -> None:
        response = await self.request("POST", url, data={"csrf": self.csrf, **data})
        location = response.headers.get("location", "")
        if response.status_code != 303 or location != expect_location:
            raise ParticipantError(
                f"POST {url}: HTTP {response.status_code} → {location or 'no redirect'}"
            )

    async def run(self) -> None:
        r = self.result
        entry = await self.request(
            "GET",
            "/start",
            params={"PROLIFIC_PID": self.pid, "STUDY_ID": "loadtest", "SESSION_ID": self.pid},
        )
        if entry.status_code == 503 and "from your address" in entry.text:
            raise ParticipantError(
                "entry: HTTP 503 — the server caps connections per address; serve the load "
                "test with --connections-per-address 0"
            )
        if entry.status_code == 429:
            raise ParticipantError(
                "entry: HTTP 429 — the server throttles new sessions per address; "
                "serve the load test with --starts-per-address 0"
            )
        if entry.status_code != 303 or entry.headers.get("location") != "/consent":
            raise ParticipantError(f"entry: HTTP {entry.status_code}")
        consent = await self.page("/consent", "Consent")
        found = _CSRF.search(consent)
        if found is None:
            raise ParticipantError("consent page has no CSRF token")
        self.csrf = found.group(1)
        await self.form("/consent", {"choice": "agree"}, "/task")
        card = await self.page("/task", "You may start with")
        suggested = _SUGGESTED.search(card)
        known = _KNOWN.search(card)
        await self.form("/task", {}, "/chat")
        await self.page("/chat", 'id="composer"')
        texts = [html.unescape(suggested.group(1)) if suggested else "Hi!"]
        if known:
            texts.append(" ".join(html.unescape(known.group(1)).split()))
        texts += list(FOLLOW_UPS)
        sent: list[str] = []
        last = 0
        for turn, text in enumerate(texts[: self.turns]):
            client_id = secrets.token_hex(16)
            await self.send(text, client_id)
            sent.append(text)
            if turn == 0:  # a network retry: same client id, must not be stored twice
                response = await self.request(
                    "POST",
                    "/chat/message",
                    data={"csrf": self.csrf, "text": text, "client_id": client_id},
                )
                if response.status_code != 200 or not response.json().get("duplicate"):
                    raise ParticipantError(f"resent message not recognised: {response.text}")
                r.idempotency_checks += 1
            last = await self.wait_for_agent(last)
        await self.form("/chat/stop", {"client_id": secrets.token_hex(16)}, "/survey")
        await self.page("/survey", "About the agent")
        answers = {item.id: random.choice(item.options) for item in SURVEY_ITEMS}
        answers.update({item.id: f"scripted answer from {self.pid}" for item in FREE_TEXT_ITEMS})
        await self.form("/survey", answers, "/done")
        again = await self.request("POST", "/survey", data={"csrf": self.csrf, **answers})
        if again.status_code != 409:
            raise ParticipantError(f"double survey submission: HTTP {again.status_code}")
        r.double_survey_rejected += 1
        done = await self.page("/done")
        if not _CODE.search(done):
            raise ParticipantError("no completion code")
        await self.check_transcript(sent)
        r.completed += 1

    async def send(self, text: str, client_id: str) -> None:
        response = await self.request(
            "POST",
            "/chat/message",
            data={"csrf": self.csrf, "text": text, "client_id": client_id},
        )
        if response.status_code != 200:
            raise ParticipantError(f"message: HTTP {response.status_code} {response.text[:200]}")
        self.result.sent_messages += 1

    async def wait_for_agent(self, after: int) -> int:
        start = time.perf_counter()
        while time.perf_counter() - start < AGENT_WAIT_S:
            response = await self.request("GET", "/chat/messages", params={"after": after})
            data = response.json()
            if data.get("agent_status") == "idle":
                self.result.agent_waits.append(time.perf_counter() - start)
                seqs = [m["seq"] for m in data.get("messages", [])]
                return max(seqs, default=after)
            if data.get("agent_status") == "error":
                raise ParticipantError("the agent failed to answer")
            await asyncio.sleep(POLL_INTERVAL_S)
        raise ParticipantError(f"no agent reply within {AGENT_WAIT_S:.0f} s")

    async def check_transcript(self, sent: list[str]) -> None:
        response = await self.request("GET", "/chat/messages", params={"after": 0})
        mine = [m["text"] for m in response.json().get("messages", []) if m["role"] == "user"]
        for text in sent:
            count = mine.count(text)
            if count == 0:
                self.result.lost_messages += 1
            elif count > 1:
                self.result.duplicated_messages += count - 1


async def run_loadtest(
    url: str,
    participants: int,
    concurrency: int = 20,
    turns: int = 3,
    seed: int | None = None,
    on_done: Any = None,
) -> LoadtestResult:
    """Drive ``participants`` scripted participants, at most ``concurrency`` at a time."""
    result = LoadtestResult(participants=participants)
    run_id = secrets.token_hex(4) if seed is None else f"{seed:08x}"
    semaphore = asyncio.Semaphore(max(1, concurrency))
    limits = httpx.Limits(max_connections=max(1, concurrency) * 2)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    # Each participant is a separate browser (own client, cookies and connections), but
    # they share one TLS context: building one loads the CA bundle, ~20 ms of CPU that
    # would block this event loop — and be charged to every other participant's request
    # in flight — each time a participant starts.
    tls = httpx.create_ssl_context()

    async def one(index: int) -> None:
        async with semaphore:
            async with httpx.AsyncClient(
                base_url=url, timeout=timeout, limits=limits, verify=tls
            ) as client:
                participant = _Participant(
                    client, result, f"load{run_id}{index:06d}", turns, index < concurrency
                )
                try:
                    await participant.run()
                except ParticipantError as exc:
                    result.errors.append(f"participant {index}: {exc}")
                except (httpx.HTTPError, ValueError) as exc:
                    result.errors.append(f"participant {index}: {type(exc).__name__}: {exc}")
            if on_done is not None:
                on_done()

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(participants)))
    result.wall_s = time.perf_counter() - start
    return result


def summary_rows(result: LoadtestResult) -> list[tuple[str, str]]:
    """The figures an operator reads, as (label, value) rows."""
    every = result.all_latencies()
    ms = 1000.0
    rows = [
        ("participants", str(result.participants)),
        ("completed sessions", str(result.completed)),
        ("errors", str(len(result.errors))),
        ("non-LLM requests", str(len(every))),
        ("latency p50 (ms)", f"{percentile(every, 50) * ms:.1f}"),
        ("latency p95 (ms)", f"{percentile(every, 95) * ms:.1f}"),
        ("latency max (ms)", f"{max(every, default=float('nan')) * ms:.1f}"),
        ("messages sent", str(result.sent_messages)),
        ("lost messages", str(result.lost_messages)),
        ("duplicated messages", str(result.duplicated_messages)),
        ("idempotent resends recognised", str(result.idempotency_checks)),
        ("double surveys rejected", str(result.double_survey_rejected)),
        (
            "agent reply p50 / p95 (ms)",
            f"{percentile(result.agent_waits, 50) * ms:.0f} / "
            f"{percentile(result.agent_waits, 95) * ms:.0f}",
        ),
        ("wall time (s)", f"{result.wall_s:.1f}"),
    ]
    for kind in sorted(result.latencies):
        values = result.latencies[kind]
        rows.append(
            (
                f"  {kind} p95 / max (ms, n={len(values)})",
                f"{percentile(values, 95) * ms:.1f} / {max(values) * ms:.1f}",
            )
        )
    return rows
