"""A real browser for the /build frontend's tests: Debian's Chromium driven by Playwright for Python (never a
browser Playwright downloads), axe-core from web/'s npm deps, and the step screenshots the README shows."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from appgen.settings import REPO_ROOT
from tests.conftest import failed

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that talks to Google on its own (the machine has no internet, and a test that
# passes must not depend on it).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = REPO_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
WEB_DIST = REPO_ROOT / "web" / "dist" / "index.html"
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Browser]:
    missing = [f"{p} ({fix})" for p, fix in _PREREQUISITES if not p.exists()]
    assert not missing, "the browser tests need: " + "; ".join(missing)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def watched_page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page of `context` whose console, errors and failed responses are kept; when the test fails, its
    teardown prints them with the page's address and visible text, and saves a screenshot: a browser test
    that fails once on a busy machine says what the person would have seen."""
    page = context.new_page()
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: seen.append(f"failed {r.method} {r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and seen.append(f"{r.status} {r.request.method} {r.url}"))
    yield page
    if failed(request.node):
        shot = Path(tempfile.gettempdir()) / f"appgen-failed-{request.node.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            text = page.inner_text("body", timeout=5_000)
        except Exception as error:  # a closed or hung page still gets its events printed
            text = f"(the page could not be read: {error})"
        print(f"the page at {page.url} ({shot}):\n{text}\n-- what it saw:\n" + "\n".join(seen))


_PREREQUISITES = [
    (CHROMIUM, "scripts/install-system-deps installs chromium"),
    (AXE, "make deps runs npm ci in web/"),
    (WEB_DIST, "make deps builds web/ into web/dist"),
]


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA rules)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def assert_accessible(page: Page, step: str) -> None:
    violations = serious_violations(page)
    assert violations == [], f"axe-core on the {step} step:\n" + "\n".join(map(str, violations))


def assert_fits(page: Page, step: str) -> None:
    """Nothing wider than the viewport: no sideways scrolling at this width."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    assert width <= viewport["width"], f"the {step} step is {width} px wide at {viewport['width']} px"


def screenshot(page: Page, name: str, *, from_top: bool = True) -> None:
    """The step as the README shows it: from the top of the page, or (`from_top=False`) where the page is
    scrolled to, such as an error notice. Taken on every run (a step that cannot be photographed fails);
    written to the committed docs/screenshots/<name>.png only with UPDATE_SCREENSHOTS=1, so a test run
    leaves the checkout as it found it."""
    if from_top:
        page.evaluate("window.scrollTo(0, 0)")
    picture = page.screenshot(animations="disabled", caret="hide")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{name}.png").write_bytes(picture)
