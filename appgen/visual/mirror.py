"""The CDN assets previews link, served to the renderer from npm packages at pinned versions
(`worker_container/mirror/package.json`, installed by `make deps` and in both images), so a preview renders
the way the design tool shows it without the internet and the same way on every run.

A URL that matches no pattern is refused, except images, which get the shared placeholder on both sides.
"""

from __future__ import annotations

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
)
