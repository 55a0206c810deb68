"""Class names a built page uses that no stylesheet of the app defines (issue 13: "unknown classes with no
CSS" as a job warning).

Tailwind 4 is the app's CSS and emits a rule for every utility its sources use, so after `next build`
the compiled stylesheets (`.next/static/**/*.css`: Tailwind, the pages' own CSS, the design packages
such as Bootstrap or Font Awesome the layout imports) hold a selector for every class that has CSS. A
class in a prerendered page that appears in none of them, nor in a `<style>` of the page itself, styles
nothing: a Tailwind 1-3 name the translation did not know, a class of a stylesheet the app does not
load, or a hook only a script used (Bootstrap's `needs-validation`). All are reported as they are; a
page that also loads stylesheets at run time (a CDN `<link>` no starter package provides) says so, since
those may define some of them.

The builder reads the class names the compiled stylesheets and the CSS files of `public/` (stylesheets
the scaffold vendored from a CDN) define (`stylesheets_classes`, from the workspace after the build) and hands them back with the pages; the validate step compares (`report`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

WARNING = "class_without_css"
EXAMPLES = 10
MAX_MESSAGE_CHARS = 1000
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
_PRELUDE = re.compile(r"([^{};]*)\{")
# `.name` in a selector, with CSS escapes (`.md\:flex`, `.w-1\/2`, `.\32 xl\:p-4`) and non-ASCII.
_CLASS = re.compile(
    r"(?<![0-9])\.((?:[A-Za-z0-9_-]|\\[0-9a-fA-F]{1,6}[ \t]?|\\[^0-9a-fA-F\n]|[^\x00-\x7f])+)"
)
_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})[ \t]?|\\(.)")


def defined_classes(css: str) -> set[str]:
    """Every class name a selector of the stylesheet names (in `:is()`, `:where()`, `:not()` too)."""
    css = _STRING.sub('""', _COMMENT.sub(" ", css))
    names: set[str] = set()
    for match in _PRELUDE.finditer(css):
        prelude = match.group(1).strip()
        if prelude.startswith("@"):
            continue
        names.update(_unescape(m.group(1)) for m in _CLASS.finditer(prelude))
    return names


def stylesheets_classes(stylesheets: list[str]) -> frozenset[str]:
    """The classes a build's compiled stylesheets define, together."""
    names: set[str] = set()
    for css in stylesheets:
        names |= defined_classes(css)
    return frozenset(names)


def _unescape(name: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF else "\ufffd"
        return match.group(2)

    return _ESCAPE.sub(one, name)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.classes: dict[str, None] = {}  # in order of first use
        self.styles: list[str] = []
        self.runtime: list[str] = []  # stylesheets loaded from elsewhere at run time
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in (values.get("class") or "").split():
            self.classes.setdefault(name, None)
        if tag == "style":
            self._in_style = True
        elif tag == "link" and "stylesheet" in (values.get("rel") or "").lower().split():
            href = (values.get("href") or "").strip()
            if re.match(r"(?i)(?:https?:)?//", href):
                self.runtime.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def classes_without_css(html: str, defined: set[str]) -> tuple[list[str], int]:
    """(the page's classes no stylesheet defines, in order of first use; how many stylesheets the page
    loads at run time from elsewhere)."""
    page = _Page()
    page.feed(html)
    page.close()
    own = defined_classes("\n".join(page.styles)) if page.styles else set()
    return [name for name in page.classes if name not in defined and name not in own], len(page.runtime)


def report(pages: dict[str, str], defined: set[str]) -> str | None:
    """One warning message for the pages (page id → prerendered HTML), or None when every class has CSS:
    `class names with no CSS: 43 on checkout (needs-validation, …); 2 on home (…)`."""
    parts = []
    for page_id, html in pages.items():
        missing, runtime = classes_without_css(html, defined)
        if not missing:
            continue
        examples = ", ".join(missing[:EXAMPLES]) + (", …" if len(missing) > EXAMPLES else "")
        note = f"; it loads {runtime} stylesheet(s) at run time that may define some" if runtime else ""
        parts.append(f"{len(missing)} on {page_id} ({examples}{note})")
    if not parts:
        return None
    message = "class names no stylesheet of the app defines (they style nothing): " + "; ".join(parts)
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"
