"""Stylesheets no starter package provides, vendored into the app: `public/vendor/<sha256>-<name>.css`, which
the page links as `/vendor/…` instead of the CDN.

The scaffold is pure, so it never fetches: the worker fetches the stylesheets this module names
(`stylesheets_to_fetch`) before it runs (`appgen/pipeline/stylesheet_fetch.py`, `APPGEN_VENDOR_STYLESHEETS`)
and hands the results in. A stylesheet that was not fetched (vendoring off, or the fetch failed) stays a
runtime `<link>` with the `external_stylesheet` warning and the reason.

Only the stylesheet itself is vendored. What it references (`url(…)` fonts and images, `@import`s) keeps
loading from where the stylesheet came from: relative references become absolute `https` URLs of the
original location, the way the browser resolved them in the preview. Vendoring those too would mean
fetching a tree of files of unknown size (a font family is often dozens of files) for a gain only offline;
the app still needs the network for them, as the preview did, and the log says so.

The preview is screenshot with the same copy: the renderer reaches no CDN, so without it a styled app
would be compared with an unstyled preview. The scaffold records which href each copy stands for in
`MANIFEST` (`.agent/`, not shipped), and the render request's previews get each vendored `<link>` replaced
in place by a `<style>` holding the copy (`inline_vendored`), read from the scaffold's snapshot
(`pipeline/gate.py`), which no agent writes to.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from appgen.scaffold.assets import package_imports
from appgen.scaffold.preview_head import linked_stylesheets
from appgen.spec import Page

PUBLIC_DIR = "public/vendor"
MANIFEST = ".agent/vendored-stylesheets.json"  # {href as the preview links it: path of its copy}
_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_IMPORT = re.compile(r"""(@import\s+)(?:"([^"]*)"|'([^']*)')""", re.I)
_SCHEME = re.compile(r"^[A-Za-z][\w+.-]*:")


@dataclass(frozen=True)
class FetchedStylesheet:
    """What the worker got for one linked stylesheet: its text and the URL it came from (after any
    redirect: its relative references resolve against that), or the reason it has none."""

    href: str  # as the preview links it
    url: str = ""
    css: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class VendoredFile:
    path: str  # in the workspace: public/vendor/<sha256-prefix>-<name>.css
    href: str  # what the page links: /vendor/…
    css: str
    origins: tuple[str, ...]  # hosts its remaining references load from, for the log


def stylesheets_to_fetch(pages: list[Page]) -> list[str]:
    """The stylesheet hrefs of the selected previews no starter package provides, once each, in order."""
    hrefs: dict[str, None] = {}
    for page in pages:
        for href in linked_stylesheets(page.selected_preview_html):
            if package_imports(href) is None:
                hrefs.setdefault(href, None)
    return list(hrefs)


def fetch_url(href: str) -> str | None:
    """The https URL to fetch for a linked href (`//cdn…` means https here), or None when it names none:
    a relative path (the design tool's own files), another scheme."""
    href = href.strip()
    if href.startswith("//"):
        href = "https:" + href
    parts = urlsplit(href)
    return href if parts.scheme.lower() == "https" and parts.hostname else None


def vendored_file(fetched: FetchedStylesheet) -> VendoredFile | None:
    """The file a fetched stylesheet becomes, its relative references made absolute; None when not fetched."""
    if fetched.css is None:
        return None
    css, origins = absolute_references(fetched.css, fetched.url or fetched.href)
    digest = hashlib.sha256(css.encode()).hexdigest()[:16]
    name = f"{digest}-{_name(fetched.url or fetched.href)}.css"
    return VendoredFile(f"{PUBLIC_DIR}/{name}", f"/vendor/{name}", css, origins)


def absolute_references(css: str, base: str) -> tuple[str, tuple[str, ...]]:
    """`css` with its relative `url(…)` and `@import "…"` references resolved against `base`, and the hosts
    every remote reference now points at. `data:`, fragments (`url(#clip)`) and absolute URLs stay."""
    origins: dict[str, None] = {}

    def resolve(ref: str) -> str | None:
        ref = ref.strip()
        if not ref or ref.startswith("#") or ref.lower().startswith("data:"):
            return None
        absolute = (
            "https:" + ref if ref.startswith("//") else ref if _SCHEME.match(ref) else urljoin(base, ref)
        )
        host = urlsplit(absolute).hostname
        if host:
            origins.setdefault(host, None)
        if absolute == ref or re.search(r"[\"\\\n\r]", absolute):
            return None
        return absolute

    def url(match: re.Match[str]) -> str:
        ref = next(g for g in match.groups() if g is not None)
        absolute = resolve(ref)
        return match.group(0) if absolute is None else f'url("{absolute}")'

    def import_(match: re.Match[str]) -> str:
        ref = match.group(2) if match.group(2) is not None else match.group(3)
        absolute = resolve(ref)
        return match.group(0) if absolute is None else f'{match.group(1)}"{absolute}"'

    return _URL.sub(url, _IMPORT.sub(import_, css)), tuple(origins)


def _name(url: str) -> str:
    """A readable file name from the URL's last path segment: `theme.min` of `…/css/theme.min.css`."""
    segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    stem = re.sub(r"\.css$", "", segment, flags=re.I)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:60]
    return stem or "stylesheet"


def manifest(vendored: Mapping[str, VendoredFile]) -> str:
    """`MANIFEST`'s text: which linked href each vendored copy stands for, in the scaffold's order."""
    return (
        json.dumps({href: copy.path for href, copy in vendored.items()}, indent=2, ensure_ascii=False) + "\n"
    )


def read_vendored(root: Path) -> dict[str, str]:
    """The vendored copies a scaffolded workspace at `root` records, by the href the previews link: {}
    without a manifest (vendoring off, nothing fetched). A copy that is missing, or whose content is not
    the one its name's digest says, is left out (its preview keeps the link)."""
    try:
        recorded = json.loads((root / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return {}
    copies: dict[str, str] = {}
    for href, path in recorded.items() if isinstance(recorded, dict) else ():
        name = str(path).removeprefix(f"{PUBLIC_DIR}/")
        if not re.fullmatch(r"[0-9a-f]{16}-[\w.-]+\.css", name):
            continue
        try:
            css = (root / PUBLIC_DIR / name).read_bytes().decode()
        except (OSError, UnicodeDecodeError):
            continue
        if hashlib.sha256(css.encode()).hexdigest()[:16] == name[:16]:
            copies[href] = css
    return copies


def inline_vendored(html: str, copies: Mapping[str, str], room: int) -> tuple[str, int]:
    """`html` with each `<link rel="stylesheet">` whose href has a copy replaced by a `<style>` holding it,
    in the same place (so the cascade keeps its order), and the bytes that took (a copy counts as its
    length in JSON, the render request's format). A copy that does not fit the `room` left keeps its link;
    so does an alternate or disabled stylesheet, which the preview does not apply."""
    if not copies:
        return html, 0
    found = _Links()
    found.feed(html)
    found.close()
    lines = [0] + [m.end() for m in re.finditer("\n", html)]  # where each line starts, as getpos counts
    out, done, used = [], 0, 0
    for (line, column), tag, attrs in found.links:
        css = copies.get((attrs.get("href") or "").strip())
        rel = (attrs.get("rel") or "").lower().split()
        if css is None or "stylesheet" not in rel or "alternate" in rel or "disabled" in attrs:
            continue
        size = len(json.dumps(css, ensure_ascii=False).encode())
        if used + size > room:
            continue
        start = lines[line - 1] + column
        if not html.startswith(tag, start):  # the parser lost count: change nothing rather than break it
            continue
        media = attrs.get("media")
        opening = "<style>" if media is None else f'<style media="{escape(media)}">'
        # `</style` would end the element early; `<\/style` is the same text to CSS (an escaped slash).
        body = re.sub(r"</(style)", r"<\\/\1", css, flags=re.I)
        out += [html[done:start], opening, body, "</style>"]
        done, used = start + len(tag), used + size
    return "".join(out) + html[done:], used


class _Links(HTMLParser):
    """Every `<link>` tag of a document with where it starts: not those in comments, scripts or styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[tuple[int, int], str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text()
        if tag == "link" and text is not None:
            self.links.append((self.getpos(), text, dict(attrs)))
