"""End-to-end tests in real headless Chromium (Debian's /usr/bin/chromium via Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from browser_fixtures import CHROMIUM, LAUNCH_ARGS

from .conftest import ADMIN_TOKEN, LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]
TIMEOUT_MS = 60_000
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"; alert(3)'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield instance
        instance.close()


def _watch_dialogs(page: Any) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def test_participant_session_and_admin_view_keep_xss_inert(
    browser: Any, live_server: LiveServer
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    dialogs = _watch_dialogs(page)
    page.goto(f"{live_server.url}/start?PROLIFIC_PID=browser0001&STUDY_ID=s1&SESSION_ID=x1")
    assert page.title() == "Consent"
    page.click("#agree")
    page.wait_for_url("**/task")
    assert "You are role-playing as a user interacting with an agent." in page.inner_text(
        "#task-card"
    )
    suggested = page.inner_text("#suggested")
    page.click("#start-chat")
    page.wait_for_url("**/chat")
    page.fill("#text", suggested)
    page.press("#text", "Enter")
    page.locator("#messages li.assistant").nth(1).wait_for()
    expect(page.locator("#send")).to_be_enabled()
    known = " ".join(page.locator("#task-card .scenario").nth(1).inner_text().split())
    page.fill("#text", known)  # the facts the agent asks for: it now runs its tool calls
    page.click("#send")
    page.locator("#messages li.assistant").nth(2).wait_for()
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#text", PAYLOAD)
    page.click("#send")
    page.locator("#messages li.assistant").nth(3).wait_for()
    user_texts = page.locator("#messages li.user .text").all_inner_texts()
    assert user_texts == [suggested, known, PAYLOAD]
    assert page.evaluate("window.__xss") is None
    assert page.locator("#messages img").count() == 0
    # A reload renders the same transcript server-side, still inert.
    page.reload()
    assert page.locator("#messages li.user .text").all_inner_texts() == [suggested, known, PAYLOAD]
    assert page.evaluate("window.__xss") is None
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#text", "/stop")
    page.press("#text", "Enter")
    page.wait_for_url("**/survey")
    for fieldset in page.locator("fieldset").all():
        fieldset.locator("input[type=radio]").first.check()
    page.fill("textarea[name=specific_examples]", PAYLOAD)
    page.click("#submit-survey")
    page.wait_for_url("**/done")
    code = page.inner_text("#completion-code")
    assert len(code) >= 8
    assert page.get_attribute("#complete-link", "href") == (
        f"https://recruiter.example/complete?cc={code}"
    )
    # The admin view.
    admin = context.new_page()
    admin_dialogs = _watch_dialogs(admin)
    admin.goto(f"{live_server.url}/admin")
    admin.wait_for_url("**/admin/login")
    admin.fill("#token", ADMIN_TOKEN)
    admin.click("#login")
    admin.wait_for_url("**/admin")
    assert "Progress" in admin.inner_text("body")
    assert "browser0001" in admin.inner_text("#sessions")
    admin.click("#sessions a")
    admin.wait_for_url("**/admin/sessions/*")
    transcript = admin.inner_text("#transcript")
    assert PAYLOAD in transcript
    assert PAYLOAD in admin.inner_text("#survey-answers")
    assert "(hidden from participant)" in transcript  # the tool calls, shown to the admin
    assert admin.evaluate("window.__xss") is None
    assert admin.locator("#transcript img, #survey-answers img").count() == 0
    admin.click("#discard-btn")
    admin.wait_for_url("**/admin/sessions/*")
    assert "discard" in admin.inner_text("#keep")
    assert dialogs == [] and admin_dialogs == []
    context.close()


class FailOnceAgent:
    """Answers "ok", except its first turn, which fails like an LLM outage."""

    def __init__(self) -> None:
        self.calls = 0

    def greeting(self) -> str:
        return "Hello"

    def respond(self, key: int, domain: str, task_id: str, history: Any) -> list[Any]:
        from tau2.data_model.message import AssistantMessage

        from usi.study.agent import AgentFailure

        self.calls += 1
        if self.calls == 1:
            raise AgentFailure("the LLM is down")
        return [AssistantMessage(role="assistant", content=f"ok {self.calls}")]


@pytest.fixture
def flaky_server(tmp_path: Any) -> Iterator[str]:
    """The study app with :class:`FailOnceAgent`, served by uvicorn in a thread."""
    import threading
    import time

    import uvicorn

    from usi.study.app import create_app
    from usi.study.server import BodyDeadline, DeadlineH11Protocol

    from .conftest import free_port, make_config

    port = free_port()
    app = create_app(make_config(tmp_path, judge_model=None), FailOnceAgent())
    server = uvicorn.Server(
        uvicorn.Config(
            BodyDeadline(app),
            host="127.0.0.1",
            port=port,
            http=DeadlineH11Protocol,
            log_level="error",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


def test_try_again_shows_only_after_a_failed_turn(browser: Any, flaky_server: str) -> None:
    """Regression: the button's ``hidden`` lost to its CSS class, so it showed on every chat."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{flaky_server}/start?PROLIFIC_PID=browser0002")
    page.click("#agree")
    page.wait_for_url("**/task")
    page.click("#start-chat")
    page.wait_for_url("**/chat")
    retry = page.locator("#retry")
    expect(page.locator("#send")).to_be_enabled()
    expect(retry).to_be_hidden()  # a normal chat
    page.fill("#text", "Hello, anyone there?")
    page.click("#send")
    expect(page.locator("#status")).to_contain_text("could not answer")
    expect(retry).to_be_visible()  # the failed turn
    page.reload()
    expect(retry).to_be_visible()  # rendered server-side the same way
    retry.click()
    page.locator("#messages li.assistant").nth(1).wait_for()
    expect(retry).to_be_hidden()
    assert page.locator("#messages li.assistant .text").nth(1).inner_text() == "ok 2"
    context.close()


def test_a_page_on_another_site_cannot_log_the_participant_into_its_session(
    browser: Any, live_server: LiveServer
) -> None:
    """Login CSRF (issue 18): a page elsewhere auto-posts /start/resume with the attacker's
    id and resume code. Before, Chromium took the response's cookie and the participant's
    next click landed in the attacker's session; now the post is refused and the
    participant's own session stays in their browser."""
    import re

    import httpx

    from usi.study import service
    from usi.study.db import make_engine, session_factory

    with httpx.Client(base_url=live_server.url, follow_redirects=True, timeout=30) as attacker:
        attacker.get("/start", params={"PROLIFIC_PID": "attacker01"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', attacker.get("/consent").text)
        assert csrf is not None
        task = attacker.post("/consent", data={"csrf": csrf.group(1), "choice": "agree"})
        code = re.search(r'id="resume-code-shown">([A-Z0-9-]+)<', task.text)
        assert code is not None
    evil = (
        "<!doctype html><html><body>"
        f'<form id="f" method="post" action="{live_server.url}/start/resume">'
        '<input type="hidden" name="PROLIFIC_PID" value="attacker01">'
        f'<input type="hidden" name="code" value="{code.group(1)}">'
        '<input type="hidden" name="choice" value="resume">'
        "</form><script>document.getElementById('f').submit()</script></body></html>"
    )
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.route(
        "http://attacker.test/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=evil),
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/start?PROLIFIC_PID=victim0001&STUDY_ID=s1&SESSION_ID=x1")
    page.click("#agree")
    page.wait_for_url("**/task")
    page.goto("http://attacker.test/win-a-prize")
    page.wait_for_url(re.compile(re.escape(live_server.url) + "/.+"))  # the form posted
    assert (page.url, page.title()) == (f"{live_server.url}/start/resume", "Expired form")
    page.goto(f"{live_server.url}/task")  # the participant's next click
    assert page.url == f"{live_server.url}/task"
    (cookie,) = [c for c in context.cookies() if c["name"] == "usi_session"]
    engine = make_engine(live_server.db_url)
    try:
        session = service.find_session(session_factory(engine), cookie["value"])
    finally:
        engine.dispose()
    assert session is not None and session.prolific_pid == "victim0001"
    context.close()
