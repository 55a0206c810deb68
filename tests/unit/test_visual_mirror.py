"""The renderer's mirror of CDN assets (`appgen/visual/mirror.py`): every asset the template corpus links is
served from a pinned npm package (or is an image, which gets the placeholder), Google Fonts stylesheets
stand for the same `@fontsource` files the app imports, and the two sides pin the same font versions."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from appgen.settings import REPO_ROOT
from appgen.visual.mirror import MIRROR_DIR, MIRROR_URLS, font_stylesheets
from tests.fixtures.specs import TEMPLATES

MIRROR = REPO_ROOT / "worker_container" / "mirror" / "package.json"
STARTER = REPO_ROOT / "worker_container" / "starter" / "package.json"


class _Assets(HTMLParser):
    """The CDN URLs a page loads: stylesheets and scripts (anchors, images and the preview's own relative
    files, which no design tool can load either, left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")
        if tag == "link" and "stylesheet" in (values.get("rel") or "") and values.get("href"):
            self.urls.append(values["href"] or "")


def _mirrored(url: str) -> str | None:
    return next((path for pattern, path in MIRROR_URLS if re.search(pattern, url)), None)


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_every_script_and_stylesheet_the_corpus_links_is_mirrored(template: str) -> None:
    html = (TEMPLATES / template).read_text()
    finder = _Assets()
    finder.feed(html)
    fonts = font_stylesheets(html)
    for url in (u for u in finder.urls if u.startswith("https://")):
        path = _mirrored(url)
        assert path is not None or url in fonts, f"{template}: nothing serves {url}"
        for file in [path] if path else fonts[url]:
            assert (MIRROR_DIR / file).is_file(), f"{file} is missing: make deps installs the mirror"


def test_a_google_fonts_link_stands_for_the_fontsource_files_the_app_imports() -> None:
    html = (
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Inter:wght@400;700&amp;display=swap">'
        '<link href="https://fonts.googleapis.com/icon?family=Material+Icons" rel="stylesheet">'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Comic+Neue">'
        '<link rel="stylesheet" href="https://example.com/fonts.css">'
    )
    assert font_stylesheets(html) == {
        # The HTML's `&amp;` is read as the browser requests it.
        "https://fonts.googleapis.com/css2?family=Inter:wght@400;700&display=swap": [
            "@fontsource/inter/400.css",
            "@fontsource/inter/700.css",
        ],
        "https://fonts.googleapis.com/icon?family=Material+Icons": ["material-icons/iconfont/filled.css"],
    }  # a family the starter does not carry is refused on both sides alike


def test_the_mirror_pins_the_font_packages_the_starter_pins() -> None:
    mirror = json.loads(MIRROR.read_text())["dependencies"]
    starter = json.loads(STARTER.read_text())["dependencies"]
    fonts = {k: v for k, v in starter.items() if k.startswith("@fontsource/") or k == "material-icons"}
    assert fonts and {k: mirror.get(k) for k in fonts} == fonts
