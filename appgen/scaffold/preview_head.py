"""What a preview's elements that never render tell the scaffold, wherever they are: `<style>` blocks
(the page's CSS), scripts (dropped with a notice, except Tailwind's CDN build and config), external
stylesheets (an npm package or a runtime link, see `assets`) and which Tailwind the preview uses; and
the head's title and description (the route's metadata)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import html5lib

from appgen.scaffold import cascade
from appgen.scaffold.jsx_props import Notify
from appgen.scaffold.jsx_text import WS

_TAILWIND_CDN = re.compile(r"cdn\.tailwindcss\.com|@tailwindcss/browser", re.I)
_TAILWIND_V4 = re.compile(r"@tailwindcss/browser", re.I)
# A compiled Tailwind stylesheet from a CDN (`unpkg.com/tailwindcss@2.2.19/dist/tailwind.min.css`): the
# app builds Tailwind itself, so the link goes (its classes are translated to Tailwind 4, see `tailwind`).
_TAILWIND_CSS = re.compile(r"/tailwindcss@[\d.^~]*/dist/[\w.-]+\.css|/tailwind(?:\.min)?\.css$", re.I)
# The major version a compiled stylesheet's URL names: `tailwindcss@2.2.19`, `ajax/libs/tailwindcss/2.2.19`.
_TAILWIND_CSS_VERSION = re.compile(r"/tailwindcss[@/][\^~]?(\d+)[\d.]*/", re.I)


class PreviewHead:
    def __init__(self, notice: Notify) -> None:
        self.notice = notice
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []  # hrefs of external stylesheets, in order
        self.tailwind: str | None = None  # "play" (v2/v3 Play CDN), "v4" (browser build), "css" (link)
        self.tailwind_plugins: set[str] = set()  # the Play CDN's `?plugins=forms,typography`
        self.tailwind_version: int | None = None  # 1-3 when the preview says which (see tailwind_compat)
        self._tailwind_before_style = False  # a compiled Tailwind link came before the first <style>

    def css_order(self) -> str:
        if self.tailwind in {None, "v4"}:
            return cascade.UNLAYERED
        return cascade.TAILWIND_BEFORE if self._tailwind_before_style else cascade.TAILWIND_AFTER

    def take(self, el: ET.Element, tag: str) -> None:
        """A `<style>`, `<script>` or `<link>` (other tags tell nothing)."""
        if tag == "style":
            if not self.styles and self.tailwind == "css":
                self._tailwind_before_style = True
            self.styles.append(el.text or "")
        elif tag == "script":
            src, text = el.get("src", ""), el.text or ""
            self.scripts.append(text)
            if src and _TAILWIND_CDN.search(src):
                self.tailwind = "v4" if _TAILWIND_V4.search(src) else "play"
                self.tailwind_version = None if self.tailwind == "v4" else 3  # the Play CDN is Tailwind 3
                for value in parse_qs(urlsplit(src).query).get("plugins", []):
                    self.tailwind_plugins |= {p.strip() for p in value.split(",") if p.strip()}
                return  # the app builds Tailwind itself
            if "tailwind.config" in text:
                return  # the config becomes @theme tokens
            what = f"the script {src}" if src else f"an inline script ({len(text)} characters)"
            self.notice("dropped_script", f"dropped {what}; its behaviour needs re-implementing in React")
        elif tag == "link" and "stylesheet" in el.get("rel", "").lower().split():
            href = el.get("href", "").strip()
            if _TAILWIND_CSS.search(href.split("?")[0]):
                self.tailwind = self.tailwind or "css"
                version = _TAILWIND_CSS_VERSION.search(href)
                if self.tailwind == "css" and version and 1 <= int(version.group(1)) <= 3:
                    self.tailwind_version = int(version.group(1))
            elif href:
                self.stylesheets.append(href)  # the scaffold decides: an npm package, or kept as a link


def linked_stylesheets(html: str) -> list[str]:
    """The external stylesheets a preview links, as `PreviewHead.stylesheets` lists them when the preview
    is converted, without converting it: the worker fetches them before the scaffold runs."""
    root = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)
    head = PreviewHead(lambda _code, _message: None)
    for el in root.iter("link"):  # HTML links only: SVG elements carry the SVG namespace
        head.take(el, "link")
    return head.stylesheets


def title(root: ET.Element) -> str | None:
    for el in root.iter("title"):  # SVG titles carry the SVG namespace and do not match
        text = WS.sub(" ", el.text or "").strip()
        return text or None
    return None


def meta_description(root: ET.Element) -> str | None:
    for el in root.iter("meta"):
        if el.get("name", "").lower() == "description" and el.get("content", "").strip():
            return el.get("content", "").strip()
    return None
