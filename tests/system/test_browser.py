"""The Prefect UI, seen in a real browser: the run form shows our fields with their descriptions, and a
run's page lists its three artifacts, each opening rendered (table text visible). Playwright drives
Debian's `chromium` (its own browser download cannot reach its host here); `make venv` installs both.
Deselect with ``-m "not browser"``.

Saves the screenshots the README shows: docs/ui-run-form.png, docs/ui-run-page.png and docs/ui-artifact.png.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from data.settings import RunOptions
from tests.helpers import add_rows, sentiment_rows

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM = os.environ.get("RETRAIN_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: `make venv` installs it (apt-get install chromium); "
                    "or deselect the browser tests with -m 'not browser'")
    with sync_playwright() as playwright:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def finished_run(retrain_served):
    """A completed run of the served deployment, triggered as a click on Run would."""
    add_rows(retrain_served.settings, sentiment_rows(240, seed=23, prefix="browser "))
    run = retrain_served.wait_final(retrain_served.trigger({"epochs": 8, "dry_run": True}).id)
    assert run.state.is_completed(), run.state
    return run


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(url)
    return page


def test_the_run_form_shows_our_fields_with_their_descriptions(browser, retrain_served, live_prefect_server):
    ui = f"http://127.0.0.1:{live_prefect_server.port}"
    page = open_page(browser, f"{ui}/deployments/deployment/{retrain_served.deployment_id}/run")

    schema = RunOptions.model_json_schema()["properties"]
    for field in schema.values():
        # The form labels a field "Epochs (Optional)": the title, then a marker.
        page.get_by_text(re.compile(rf"^{re.escape(field['title'])}\b")).first.wait_for(state="visible")
        page.get_by_text(field["description"]).first.wait_for(state="visible")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "ui-run-form.png"), full_page=True)
    page.close()


def test_the_run_page_lists_the_three_artifacts_and_each_opens_rendered(browser, finished_run, live_prefect_server):
    ui = f"http://127.0.0.1:{live_prefect_server.port}"
    run_page = f"{ui}/runs/flow-run/{finished_run.id}"
    # What each artifact's page shows once rendered: a markdown table's cells, the progress bar's value.
    rendered = {"champion-vs-challenger": ["majority-class baseline", "held-out accuracy"],
                "data-checks": ["encoding_garbage", "example ids"],
                "fine-tuning-progress": ["Progress: 100%"]}

    page = open_page(browser, run_page)
    page.get_by_text("Artifacts", exact=True).first.click()
    for key in rendered:
        page.get_by_text(key, exact=True).first.wait_for(state="visible")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "ui-run-page.png"), full_page=True)

    for key, texts in rendered.items():  # a click on each card, as a person would
        page.goto(run_page)
        page.get_by_text("Artifacts", exact=True).first.click()
        page.get_by_text(key, exact=True).first.click()
        for text in texts:
            page.get_by_text(text).first.wait_for(state="visible")
        if key == "champion-vs-challenger":
            page.screenshot(path=str(DOCS / "ui-artifact.png"), full_page=True)
    page.close()
