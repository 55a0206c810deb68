"""The /build frontend in a real browser, the way a person uses it: Chromium against one `appgen dev` stack
(the offline model, so one job takes about a minute), signing in with the development sign-in, clicking
and typing. Each step is checked with axe-core and photographed for the README (docs/screenshots/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from appgen.auth import mint_user_token
from appgen.client import ApiClient
from appgen.settings import LOCAL_JWT_SECRET, REPO_ROOT
from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    assert_accessible,
    assert_fits,
    chromium,
    screenshot,
    watched_page,
)
from tests.e2e.stack import INSTALL_CACHE, RunningStack, start_stack
from tests.fixtures.specs import small_spec

pytestmark = pytest.mark.e2e

JOB_URL = re.compile(r"/build/jobs/([0-9a-f-]{36})$")
EXAMPLE = json.loads((REPO_ROOT / "examples" / "projects" / "corner-bakery.json").read_text())


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    root = Path(tempfile.mkdtemp(prefix="appgen-test-build-"))
    root.chmod(0o755)  # the embedded PostgreSQL's user and the sandbox's must enter it
    running = start_stack(root / "data", {"APPGEN_NPM_CACHE": str(INSTALL_CACHE)})
    yield running
    code = running.stop()
    log = running.log()
    if not os.environ.get("APPGEN_TEST_KEEP"):
        shutil.rmtree(root, ignore_errors=True)
    assert code == 0, log


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


@pytest.fixture
def page(browser: Browser, stack: RunningStack, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=stack.api, accept_downloads=True)
    context.set_default_timeout(30_000)
    with watched_page(context, request) as opened:
        yield opened
    context.close()


def test_a_person_chooses_reviews_generates_follows_and_downloads_the_zip(
    page: Page, stack: RunningStack, tmp_path: Path
) -> None:
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))

    # Sign in: appgen dev's development sign-in, typed like a person would.
    page.goto("/build/")
    expect(page.get_by_role("heading", name="Sign in to build your app")).to_be_visible()
    assert_accessible(page, "sign-in")
    screenshot(page, "0-sign-in")
    page.get_by_label("User id").fill(str(uuid.uuid4()))
    page.get_by_role("button", name="Sign in", exact=True).click()

    # Load the example draft.
    expect(page.get_by_role("heading", name="Build your app", exact=True)).to_be_visible()
    expect(page.get_by_text("No jobs yet. Load a draft to start one.")).to_be_visible()
    use_example = page.get_by_role("button", name=f"Use this example: {EXAMPLE['brief']['title']}")
    expect(use_example).to_be_visible()
    assert_accessible(page, "start")
    screenshot(page, "1-start")
    use_example.click()

    # Step 1: every candidate is a sandboxed frame that may run no script; Review says what is missing.
    expect(page.get_by_role("heading", name="Choose one design per page")).to_be_visible()
    frames = page.locator("iframe")
    expect(frames).to_have_count(sum(len(p["candidates"]) for p in EXAMPLE["pages"]))
    assert set(frames.evaluate_all("fs => fs.map(f => f.getAttribute('sandbox'))")) == {""}
    page.get_by_role("button", name="Review").click()
    expect(page).to_have_url(re.compile(r"/build/choose\?"))
    expect(page.locator("#choose-status")).to_have_text(
        "Choose a design for 4 more pages to continue: Home, Menu, Order ahead and Visit us."
    )
    expect(page.get_by_text("Choose one of these 3 designs.")).to_have_count(4)
    # With the keyboard: Space picks the focused design, an arrow key moves the pick to the next one.
    home = page.get_by_role("group", name="Home /")
    home.get_by_role("radio").first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    expect(home.get_by_role("radio", name="Sage and cream")).to_be_checked()
    for name in ("Menu", "Order ahead"):
        _pick_first_design(page, name)
    page.get_by_role("button", name="Review").click()
    expect(page.locator("#choose-status")).to_have_text("Choose a design for the Visit us page to continue.")
    expect(page.get_by_role("group", name="Visit us").get_by_role("radio").first).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#choose-status")).to_contain_text("Every page has its design.")
    expect(page.locator(".preview-loading")).to_have_count(0)
    assert_accessible(page, "choose")
    screenshot(page, "2-choose")
    page.set_viewport_size(PHONE)
    assert_fits(page, "choose")
    screenshot(page, "2-choose-390px")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Review").click()

    # Step 2: the review, then Generate (by keyboard) sends the spec with an Idempotency-Key.
    expect(page.get_by_role("heading", name="Review and generate")).to_be_visible()
    expect(page.get_by_text(EXAMPLE["pages"][2]["notes"][:40]).first).to_be_visible()
    expect(page.locator(".preview-loading")).to_have_count(0)
    assert_accessible(page, "review")
    screenshot(page, "3-review")
    page.get_by_role("button", name="Generate app").focus()
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/agentic/jobs")) as sent:
        page.keyboard.press("Enter")
    submit = sent.value
    assert uuid.UUID(submit.headers["idempotency-key"])
    spec = submit.post_data_json
    assert [p["pageId"] for p in spec["pages"]] == ["home", "menu", "order", "contact"]
    home_candidates = {c["id"]: c["html"] for c in EXAMPLE["pages"][0]["candidates"]}
    assert spec["pages"][0]["selectedPreviewHtml"] == list(home_candidates.values())[1]  # Sage and cream
    expect(page).to_have_url(JOB_URL)
    match = JOB_URL.search(page.url)
    assert match is not None
    job_id = match.group(1)
    job_api = f"{stack.api}/api/agentic/jobs/{job_id}"

    # Step 3: progress arrives over the events stream.
    expect(page.get_by_text("· live")).to_be_visible()
    expect(page.get_by_test_id("pages")).to_contain_text("of 4 done")
    expect(page.locator(".log li").first).to_be_visible(timeout=120_000)
    assert_accessible(page, "progress")
    screenshot(page, "4-progress")
    page.set_viewport_size(PHONE)
    assert_fits(page, "progress")
    page.set_viewport_size(DESKTOP)

    # A reload mid-job resumes at the job's own URL, from the stream again.
    with ApiClient(stack.api, _token_of(page)) as client:
        assert client.status(job_id)["status"] in ("queued", "running", "fixing"), "finished too soon to test"
    page.reload()
    expect(page).to_have_url(JOB_URL)
    expect(page.get_by_text("· live")).to_be_visible()
    expect(page.locator(".log li").first).to_be_visible()

    # Step 4: only "Download ZIP", and the ZIP it downloads is the app.
    expect(page.get_by_role("heading", name="Your app is ready")).to_be_visible(timeout=480_000)
    main_buttons = page.get_by_role("main").get_by_role("button")
    expect(main_buttons).to_have_count(1)
    expect(main_buttons).to_have_text("Download ZIP")
    assert_accessible(page, "done")
    screenshot(page, "5-done")
    with page.expect_download() as downloading:
        main_buttons.click()
    archive = tmp_path / "app.zip"
    downloading.value.save_as(archive)
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.testzip() is None
        assert {"package.json", "app/menu/page.tsx", "app/contact/page.tsx"} <= set(zipped.namelist())

    # The page never polled: its progress came from the stream, opened again after the reload.
    urls = [(r.method, r.url.split("?")[0]) for r in requests]
    assert [u for u in urls if u[1] in (job_api, f"{job_api}/logs")] == []
    assert urls.count(("GET", f"{job_api}/events")) >= 2
    assert urls.count(("POST", f"{job_api}/download")) == 1


def test_a_person_cancels_a_running_job(page: Page, stack: RunningStack) -> None:
    user = uuid.uuid4()
    with ApiClient(stack.api, mint_user_token(user, LOCAL_JWT_SECRET)) as client:
        # Two jobs hold the user's running slots, so the third waits, queued and cancellable: it cannot
        # finish before the click, however fast the machine.
        holders = [client.submit(small_spec(pages=1)) for _ in range(2)]
        job_id = client.submit(small_spec(pages=1))
        assert client.status(job_id)["status"] == "queued"
        _sign_in(page, user)
        page.goto(f"/build/jobs/{job_id}")
        page.get_by_role("button", name="Cancel job").click()
        expect(page.get_by_text("Cancel this job?")).to_be_visible()
        expect(page.get_by_role("button", name="Keep it running")).to_be_focused()
        assert_accessible(page, "cancel")
        page.get_by_role("button", name="Yes, cancel the job").click()
        expect(page.get_by_role("heading", name="Cancelled")).to_be_visible()
        expect(page.get_by_text("You cancelled this job.")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
        assert client.status(job_id)["status"] == "cancelled"
        for holder in holders:
            client.cancel(holder)


def test_failed_jobs_and_a_spent_quota_are_shown_in_words(page: Page, stack: RunningStack) -> None:
    user = uuid.uuid4()
    with ApiClient(stack.api, mint_user_token(user, LOCAL_JWT_SECRET)) as client:
        jobs = [client.submit(small_spec(pages=1)) for _ in range(5)]  # the daily cap
    with psycopg.connect(stack.database, autocommit=True) as conn:
        for job_id in jobs:  # failures of the user's own design count against the cap
            conn.execute(
                "select * from app_generation_fail_job(%s, 'build_failed', 'next build failed (a test ended it)')",
                (job_id,),
            )

    # The recent jobs list, and a failed job with its error and a way back.
    _sign_in(page, user)
    expect(page.locator(".job-item")).to_have_count(5)
    expect(page.locator(".job-item .badge").first).to_have_text("Failed")
    page.locator(".job-item a").first.click()
    expect(page.get_by_role("heading", name="The job failed")).to_be_visible()
    expect(page.get_by_text("still failed to build after the fix rounds")).to_be_visible()
    expect(page.get_by_text("(build_failed: next build failed (a test ended it))")).to_be_visible()
    assert_accessible(page, "failed")
    screenshot(page, "6-failed")
    page.get_by_role("link", name="Start a new build").click()

    # A sixth job: 429, in words, with when the next slot opens.
    _submit_pasted_draft(page, _one_page_draft())
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Daily generation limit reached")
    expect(alert).to_contain_text(
        re.compile(r"The next slot opens (at|tomorrow at) .+ \(in \d+ h( \d+ min)?\)\.")
    )
    assert_accessible(page, "quota refusal")
    screenshot(page, "7-quota-refused", from_top=False)


def test_a_design_the_api_refuses_is_shown_in_words(page: Page) -> None:
    draft = _one_page_draft()
    draft["pages"][0]["route"] = "/api"  # reserved by the generated app: only the API knows
    _sign_in(page, uuid.uuid4())
    _submit_pasted_draft(page, draft)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The design was refused")
    expect(alert.get_by_role("listitem").first).to_contain_text("Page 1 (“Home”), route")
    assert_accessible(page, "validation refusal")
    screenshot(page, "8-design-refused", from_top=False)


def _sign_in(page: Page, user: uuid.UUID) -> None:
    page.goto("/build/")
    page.get_by_label("User id").fill(str(user))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Build your app", exact=True)).to_be_visible()


def _pick_first_design(page: Page, page_name: str) -> None:
    # A click, then wait: the pick goes through the URL, so the radio shows it a render later
    # (Playwright's check() would look at it straight after the click).
    radio = page.get_by_role("group", name=page_name).get_by_role("radio").first
    radio.click()
    expect(radio).to_be_checked()


def _token_of(page: Page) -> str:
    """The access token the page signed in with (the dev sign-in keeps it in sessionStorage)."""
    return str(page.evaluate("JSON.parse(sessionStorage.getItem('appgen.dev.token')).accessToken"))


def _one_page_draft() -> dict[str, Any]:
    """The example's home page alone, with two of its designs: a draft a host app could hand over."""
    draft = {key: EXAMPLE[key] for key in ("brief", "style", "globalNotes")}
    home = dict(EXAMPLE["pages"][0])
    home["candidates"] = home["candidates"][:2]
    return {"projectId": str(uuid.uuid4()), **draft, "pages": [home]}


def _submit_pasted_draft(page: Page, draft: dict[str, Any]) -> None:
    """Paste a draft, pick its first design per page, review and press Generate."""
    expect(page.get_by_role("heading", name="Build your app", exact=True)).to_be_visible()
    page.get_by_label("Paste a draft (JSON)").fill(json.dumps(draft))
    page.get_by_role("button", name="Use this draft").click()
    expect(page.get_by_role("heading", name="Choose one design per page")).to_be_visible()
    for spec_page in draft["pages"]:
        _pick_first_design(page, spec_page["name"])
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Generate app").click()
