"""The example specs: every file in `examples/specs/` is a valid `generation_spec` whose previews carry
the constructs a design tool emits (style blocks, inline scripts, SVG, forms), so the demo and the
scaffolder are exercised on realistic input rather than on toy HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from appgen.settings import REPO_ROOT
from appgen.spec import GenerationSpec

SPECS_DIR = REPO_ROOT / "examples" / "specs"
SPEC_FILES = sorted(SPECS_DIR.glob("*.json"))
DEFAULT_DEMO_SPEC = SPECS_DIR / "launchpad-saas.json"


def _load(path: Path) -> GenerationSpec:
    return GenerationSpec.model_validate(json.loads(path.read_text()))


def test_the_default_demo_spec_and_a_second_example_exist() -> None:
    assert DEFAULT_DEMO_SPEC in SPEC_FILES
    assert len(SPEC_FILES) >= 2, f"expected at least two example specs, found {SPEC_FILES}"


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_spec_validates_and_has_at_least_three_pages(path: Path) -> None:
    spec = _load(path)
    assert len(spec.pages) >= 3, f"{path.name} has {len(spec.pages)} pages"
    assert spec.pages[0].route == "/", "the first page is the home page"
    assert spec.actions, f"{path.name} requests no action"


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_every_preview_has_style_inline_script_and_svg(path: Path) -> None:
    for page in _load(path).pages:
        html = page.selected_preview_html
        assert html.lstrip().lower().startswith("<!doctype html>"), page.page_id
        assert "<style" in html, f"{page.page_id}: no <style> block"
        assert re.search(r"<script>\s*\S", html), f"{page.page_id}: no inline <script>"
        assert "<svg" in html and "viewBox=" in html, f"{page.page_id}: no inline SVG"


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_spec_has_a_form_and_every_action_is_used_by_its_page(path: Path) -> None:
    spec = _load(path)
    assert any("<form" in page.selected_preview_html for page in spec.pages), f"{path.name}: no <form>"
    for page in spec.pages:
        for action in page.actions:
            assert f'action="/api/{action}"' in page.selected_preview_html, (
                f"{page.page_id}: action {action!r} has no form posting to /api/{action}"
            )


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_internal_links_point_at_routes_of_the_spec(path: Path) -> None:
    spec = _load(path)
    routes = {page.route for page in spec.pages}
    for page in spec.pages:
        links = set(re.findall(r'href="(/[^"#?]*)', page.selected_preview_html))
        assert links, f"{page.page_id}: no navigation links"
        assert links <= routes, f"{page.page_id}: links to unknown routes {sorted(links - routes)}"
