"""The report as a reader sees it: Debian's headless Chromium opens report.html offline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from browser_fixtures import CHROMIUM, LAUNCH_ARGS
from usi.metrics import load_table
from usi.report import write_report
from usi.report.synthetic import SIM_STYLES, generate

#: Set to a folder to keep the screenshot for a human look (e.g. USI_REPORT_SCREENSHOT=/tmp).
SCREENSHOT_ENV = "USI_REPORT_SCREENSHOT"


@pytest.mark.browser
def test_every_figure_loads_in_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is absent (/usr/bin/chromium): apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")

    human = load_table(generate("human", 120, 1, n_tasks=20, n_batches=3, with_judge=True))
    sims = {n: load_table(generate(n, 80, 2, style, n_tasks=20)) for n, style in SIM_STYLES.items()}
    capability = tmp_path / "capability.csv"
    capability.write_text(
        "model,family,score\npolite-llm,acme,1310\npersona,acme,1260\nmimic,acme,1200\n",
        encoding="utf-8",
    )
    # tables given as is carry usi-v2's features (tau-usi reads the files themselves)
    report = write_report(human, sims, tmp_path / "report", capability, definitions="usi-v2")
    # Self-contained: the page must render with the files beside it gone.
    alone = tmp_path / "alone" / "report.html"
    alone.parent.mkdir()
    shutil.copy(report, alone)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(alone.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img",
                "els => els.map(e => ({alt: e.alt, complete: e.complete, w: e.naturalWidth,"
                " shown: e.getBoundingClientRect().width}))",
            )
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert len(images) == 11
    for image in images:
        assert image["complete"] and image["w"] > 0, f"figure did not load: {image['alt']}"
        assert image["shown"] > 600, f"figure too narrow to read: {image['alt']}"
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert shot.stat().st_size > 50_000
    keep = os.environ.get(SCREENSHOT_ENV)
    if keep:
        shutil.copy(shot, Path(keep) / "usi-report-screenshot.png")
