"""The CDN assets previews link, served to the renderer from npm packages at pinned versions
(`worker_container/mirror/package.json`, installed by `make deps` and in both images), so a preview renders
the way the design tool shows it without the internet and the same way on every run.

Google Fonts stylesheets are answered from the same `@fontsource` packages (and `material-icons`), at the
same versions, that the scaffold imports for them in the app (`appgen.scaffold.assets`): Fontsource
packages Google's font files, so both sides draw the same glyphs. A URL that matches no pattern is
refused, except images, which get the shared placeholder on both sides.
"""

from __future__ import annotations

from html.parser import HTMLParser

from appgen.scaffold.assets import package_imports
from appgen.settings import REPO_ROOT

MIRROR_DIR = REPO_ROOT / "worker_container" / "mirror" / "node_modules"

# (regex on the full URL, file under MIRROR_DIR)
MIRROR_URLS: tuple[tuple[str, str], ...] = (
    # Tailwind 3's Play CDN, with or without its first-party plugins.
    (
        r"^https://cdn\.tailwindcss\.com/?(\?plugins=[^#]*)$",
        "tailwindcss-cdn/tailwindcss-with-all-plugins.js",
    ),
    (r"^https://cdn\.tailwindcss\.com(/3[.0-9]*)?/?$", "tailwindcss-cdn/tailwindcss.js"),
    # Tailwind 4's browser build.
    (
        r"^https://(cdn\.jsdelivr\.net/npm|unpkg\.com)/@tailwindcss/browser@4[^/]*(/dist/index\.global\.js)?$",
        "@tailwindcss/browser/dist/index.global.js",
    ),
    # Alpine.js 3.
    (
        r"^https://(cdn\.jsdelivr\.net/npm|unpkg\.com)/alpinejs@3[^/]*/dist/cdn(\.min)?\.js$",
        "alpinejs/dist/cdn.min.js",
    ),
    (r"^https://(cdn\.jsdelivr\.net/npm|unpkg\.com)/alpinejs@3[^/]*$", "alpinejs/dist/cdn.min.js"),
    # Alpine.js 2 (npm `alpinejs2` is alpinejs@2.8.2, the last v2; its package has the unminified build).
    (
        r"^https://cdn\.jsdelivr\.net/(npm/alpinejs|gh/alpinejs/alpine)@v?2[^/]*/dist/alpine(\.min)?\.js$",
        "alpinejs2/dist/alpine.js",
    ),
    # Tailwind 2's compiled stylesheet (npm `tailwindcss2` is tailwindcss@2.2.19).
    (
        r"^https://(cdn\.jsdelivr\.net/npm|unpkg\.com)/tailwindcss@\^?2[^/]*/dist/tailwind(\.min)?\.css$",
        "tailwindcss2/dist/tailwind.min.css",
    ),
    # Bootstrap 5 (the starter imports its own pinned 5.x in the app).
    (
        r"^https://(cdn\.jsdelivr\.net/npm|unpkg\.com)/bootstrap@5[^/]*/dist/css/bootstrap(\.min)?\.css$",
        "bootstrap/dist/css/bootstrap.min.css",
    ),
    (
        r"^https://(cdn\.jsdelivr\.net/npm|unpkg\.com)/bootstrap@5[^/]*/dist/js/bootstrap\.bundle(\.min)?\.js$",
        "bootstrap/dist/js/bootstrap.bundle.min.js",
    ),
    # Chart.js 2 and jQuery 3 from cdnjs.
    (
        r"^https://cdnjs\.cloudflare\.com/ajax/libs/Chart\.js/2[.0-9]*/Chart(\.min)?\.js$",
        "chart.js/dist/Chart.min.js",
    ),
    (
        r"^https://cdnjs\.cloudflare\.com/ajax/libs/Chart\.js/2[.0-9]*/Chart(\.min)?\.css$",
        "chart.js/dist/Chart.min.css",
    ),
    (
        r"^https://cdnjs\.cloudflare\.com/ajax/libs/jquery/3[.0-9]*/jquery(\.min)?\.js$",
        "jquery/dist/jquery.min.js",
    ),
)
FONT_HOSTS = ("https://fonts.googleapis.com/", "https://fonts.bunny.net/")


def font_stylesheets(html: str) -> dict[str, list[str]]:
    """The Google Fonts stylesheets a preview links -> the CSS files under MIRROR_DIR that stand for them
    (only those the mirror has; the others are refused, so both sides fall back alike)."""
    finder = _Links()
    finder.feed(html)
    out: dict[str, list[str]] = {}
    for href in finder.hrefs:
        files = package_imports(href) if href.startswith(FONT_HOSTS) else None
        if files and all((MIRROR_DIR / f).is_file() for f in files):
            out[href] = files
    return out


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "link" and href:
            self.hrefs.append(href.strip())
