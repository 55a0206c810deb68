"""How much of a preview survived into the built page: visible words and counts of interactive parts.

Only the `[data-appgen-page]` element of the built HTML is measured, so the layout (skip link, future
shared navigation) does not count. Text is read the way it renders: adjacent inline text joins, block
elements and `<br>` separate words, and script/style/template/noscript content is not text. Both sides go
through the same html5lib reading, so differences are the conversion's, not the parser's.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass

import html5lib

from appgen.scaffold.jsx_text import BLOCK

TEXT_RATIO_OK = 0.98
KINDS = ("headings", "links", "images", "buttons", "fields")
_HIDDEN = frozenset({"script", "style", "template", "noscript", "head", "title"})
# SVG <text> elements are placed one by one (x/y), so adjacent ones are separate words, not one.
_BREAKS = BLOCK | {"br", "img", "input", "button", "select", "textarea", "svg", "text"}
_BUTTON_INPUTS = frozenset({"submit", "button", "reset", "image"})


@dataclass(frozen=True)
class FidelityReport:
    page_id: str
    text_ratio: float
    preview: dict[str, int]
    built: dict[str, int]
    found: bool = True

    @property
    def ok(self) -> bool:
        return self.found and self.text_ratio >= TEXT_RATIO_OK and self.preview == self.built

    def summary(self) -> str:
        if not self.found:
            return f"{self.page_id}: the built page has no [data-appgen-page={self.page_id!r}] element"
        counts = ", ".join(f"{kind} {self.built[kind]}/{self.preview[kind]}" for kind in KINDS)
        return f"{self.page_id}: text {self.text_ratio:.1%}, {counts}"


def measure(preview_html: str, built_html: str, page_id: str) -> FidelityReport:
    preview_root = _parse(preview_html).find("body")
    built = _find_page(_parse(built_html), page_id)
    preview = _counts(preview_root)
    if built is None:
        return FidelityReport(page_id, 0.0, preview, dict.fromkeys(KINDS, 0), found=False)
    return FidelityReport(page_id, _overlap(_words(preview_root), _words(built)), preview, _counts(built))


def _parse(html: str) -> ET.Element:
    return html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)


def _find_page(root: ET.Element, page_id: str) -> ET.Element | None:
    for el in root.iter():
        if el.get("data-appgen-page") == page_id:
            return el
    return None


def _local(el: ET.Element) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def _words(root: ET.Element | None) -> list[str]:
    if root is None:
        return []
    chunks: list[str] = []

    def walk(el: ET.Element) -> None:
        for child in el:
            tag = _local(child)
            if tag and tag not in _HIDDEN:
                if tag in _BREAKS:
                    chunks.append(" ")
                chunks.append(child.text or "")
                walk(child)
                if tag in _BREAKS:
                    chunks.append(" ")
            chunks.append(child.tail or "")  # comments (React's `<!-- -->` markers) keep their tail

    chunks.append(root.text or "")
    walk(root)
    return "".join(chunks).split()


def _overlap(preview: list[str], built: list[str]) -> float:
    """The share of the preview's words (as a multiset) found in the built page."""
    if not preview:
        return 1.0
    common = Counter(preview) & Counter(built)
    return sum(common.values()) / len(preview)


def _counts(root: ET.Element | None) -> dict[str, int]:
    """Counts per kind, not looking inside script/style/template/noscript (they do not render)."""
    counts = dict.fromkeys(KINDS, 0)
    stack = list(root) if root is not None else []
    while stack:
        el = stack.pop()
        tag = _local(el)
        if not tag or tag in _HIDDEN:
            continue
        kind = _kind(tag, el)
        if kind:
            counts[kind] += 1
        stack.extend(el)
    return counts


def _kind(tag: str, el: ET.Element) -> str | None:
    if re.fullmatch(r"h[1-6]", tag):
        return "headings"
    if tag == "a" and not el.tag.startswith("{"):
        return "links"
    if tag == "img":
        return "images"
    if tag == "button":
        return "buttons"
    if tag == "input":
        kind = el.get("type", "text").lower()
        if kind in _BUTTON_INPUTS:
            return "buttons"
        return None if kind == "hidden" else "fields"
    if tag in {"select", "textarea"}:
        return "fields"
    return None


def missing_words(preview_html: str, built_html: str, page_id: str, limit: int = 20) -> list[str]:
    """The preview's words the built page lacks (as a multiset), in preview order, at most `limit`: what
    a repair agent is told to put back."""
    left = Counter(_words(_find_page(_parse(built_html), page_id)))
    missing: list[str] = []
    for word in _words(_parse(preview_html).find("body")):
        if left[word] > 0:
            left[word] -= 1
        elif len(missing) < limit:
            missing.append(word)
    return missing
