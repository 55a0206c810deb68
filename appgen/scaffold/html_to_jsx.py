"""A preview HTML document → a React component (TSX) that renders the same body, without
`dangerouslySetInnerHTML`.

html5lib parses the preview the way a browser does (entities decoded, SVG attribute case restored, tags
closed); the tree is then written out as JSX under the rules React, TypeScript (`next build`) and
eslint-config-next impose. What cannot be carried over is dropped with a notice, never silently:
scripts (`dropped_script`), event handler attributes (`dropped_event_handler`), external stylesheets
(`dropped_stylesheet`), attributes the element's React type does not declare (`dropped_attribute`),
`<template>`/`<noscript>`/MathML (`dropped_element`), unknown or custom elements (`unwrapped_element`,
children kept) and form targets (`dropped_form_action`: a preview's form must not post away; the page
agent wires it to the app's API route). Iframes, embeds, video and audio are kept as they are: they are
part of what the user picked. `<style>` blocks become the page's CSS file (global, like in the preview).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import html5lib

from appgen.scaffold import cascade
from appgen.scaffold import react_props as rp
from appgen.scaffold.jsobject import JsObjectError, parse_object_literal
from appgen.scaffold.jsx_props import attr_value, convert_attributes, js_string
from appgen.scaffold.react_props import names
from appgen.scaffold.tailwind_compat import translate_classes

SVG_NS = "http://www.w3.org/2000/svg"
# Elements around which whitespace never renders: dropped for readability.
BLOCK = names(
    "address article aside blockquote br caption dd details dialog div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr legend li main nav ol optgroup option p pre section "
    "summary table tbody td tfoot th thead tr ul"
)
# Elements React refuses whitespace text inside (validateDOMNesting), plus non-text SVG containers.
_NO_TEXT = names("table thead tbody tfoot tr colgroup select optgroup datalist")
_SVG_TEXT = frozenset({"text", "tspan", "textPath", "title", "desc", "style"})
_FLEX_OR_GRID = frozenset({"flex", "inline-flex", "grid", "inline-grid"})
_WS = re.compile(r"[ \t\n\r\f]+")
_TEXT_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "{": "&#123;",
    "}": "&#125;",
    '"': "&quot;",
    "'": "&apos;",
    "\xa0": "&nbsp;",
}
_TEXT_ESCAPE = re.compile("[&<>{}\"'\xa0]")
_TAILWIND_CDN = re.compile(r"cdn\.tailwindcss\.com|@tailwindcss/browser", re.I)
_TAILWIND_V4 = re.compile(r"@tailwindcss/browser", re.I)
# A compiled Tailwind stylesheet from a CDN (`unpkg.com/tailwindcss@2.2.19/dist/tailwind.min.css`): the
# app builds Tailwind itself, so the link goes (its classes are translated to Tailwind 4, see `tailwind`).
_TAILWIND_CSS = re.compile(r"/tailwindcss@[\d.^~]*/dist/[\w.-]+\.css|/tailwind(?:\.min)?\.css$", re.I)
# The major version a compiled stylesheet's URL names: `tailwindcss@2.2.19`, `ajax/libs/tailwindcss/2.2.19`.
_TAILWIND_CSS_VERSION = re.compile(r"/tailwindcss[@/][\^~]?(\d+)[\d.]*/", re.I)
_MAX_ATTR_LINE = 100


@dataclass(frozen=True)
class Notice:
    code: str
    message: str


@dataclass
class ConvertedPage:
    """The component source and what the rest of the scaffold needs from the preview."""

    tsx: str
    css: str
    title: str | None
    description: str | None
    lang: str | None
    scripts: list[str]
    notices: list[Notice]
    stylesheets: list[str] = field(default_factory=list)  # hrefs of external stylesheets, in order
    tailwind: str | None = None  # "play" (v2/v3 Play CDN), "v4" (browser build), "css" (compiled link)
    tailwind_plugins: set[str] = field(default_factory=set)  # the Play CDN's `?plugins=forms,typography`


def convert_document(
    html: str,
    *,
    page_id: str,
    component: str,
    resolve_link: Callable[[str], str | None],
    css_import: str | None = None,
) -> ConvertedPage:
    """Convert a preview document. `resolve_link(href)` returns the app route an internal href points at
    (rendered as `next/link`), or None to keep a plain `<a>`. `css_import` is the stylesheet the
    component imports when the preview has `<style>` blocks."""
    root = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)
    converter = _Converter(resolve_link)
    head, body = root.find("head"), root.find("body")
    if head is not None:
        for el in head:
            converter.head_element(el)
    wrapper = ET.Element("div", {"data-appgen-page": page_id})
    if body is not None:
        for name in ("class", "style", "id", "dir", "lang"):
            if body.get(name):
                wrapper.set(name, body.get(name, ""))
        dropped = sorted(k for k in body.attrib if k.startswith("on"))
        if dropped:
            converter.notice("dropped_event_handler", f"dropped <body> event handlers: {', '.join(dropped)}")
        wrapper.text = body.text
        wrapper.extend(list(body))
    body_lines = converter.element(wrapper, 2, in_pre=False)
    own = "\n\n".join(block.strip() for block in converter.styles if block.strip())
    css = cascade.layer_page_css(own, converter.css_order()) if own else ""
    if converter.important_rules:
        # Inline `!important` declarations, as classes in the first layer: important declarations of an
        # earlier layer beat those of later layers and unlayered ones, the nearest to an inline style's.
        rules = "\n".join(f"  {rule}" for rule in converter.important_rules)
        css = (css.rstrip() + "\n\n" if css.strip() else "") + f"@layer base {{\n{rules}\n}}"
    if converter.tailwind is None:
        # After the page's CSS: an `@import` it has must stay first.
        css = (css.rstrip() + "\n\n" if css.strip() else "") + cascade.without_tailwind_base(page_id)
    css = css.strip()
    return ConvertedPage(
        tsx=_module(converter, component, body_lines, css_import if css else None),
        css=css + "\n" if css else "",
        title=_title(root),
        description=_meta_description(root),
        lang=root.get("lang") or None,
        scripts=converter.scripts,
        notices=converter.notices,
        stylesheets=converter.stylesheets,
        tailwind=converter.tailwind,
        tailwind_plugins=converter.tailwind_plugins,
    )


def _module(conv: _Converter, component: str, body: list[str], css_import: str | None) -> str:
    head = []
    if conv.uses_img:
        head.append("/* eslint-disable @next/next/no-img-element -- preview images are kept as they were */")
    if conv.uses_style:
        head.append('import type { CSSProperties } from "react";')
    if conv.uses_link:
        head.append('import Link from "next/link";')
    if css_import:
        head.append(f'import "{css_import}";')
    lines = [*head, "", f"export default function {component}() {{", "  return ("]
    lines += body
    lines += ["  );", "}", ""]
    return "\n".join(lines).lstrip("\n")


def _title(root: ET.Element) -> str | None:
    for el in root.iter("title"):  # SVG titles carry the SVG namespace and do not match
        text = _WS.sub(" ", el.text or "").strip()
        return text or None
    return None


def _meta_description(root: ET.Element) -> str | None:
    for el in root.iter("meta"):
        if el.get("name", "").lower() == "description" and el.get("content", "").strip():
            return el.get("content", "").strip()
    return None


def _local(tag: str) -> tuple[str, bool]:
    """(local name, is SVG) of an html5lib etree tag."""
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return local, ns == SVG_NS
    return tag, False


class _Converter:
    def __init__(self, resolve_link: Callable[[str], str | None]) -> None:
        self.resolve_link = resolve_link
        self.notices: list[Notice] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.important_rules: list[str] = []
        self.alpine_scopes: list[dict[str, object]] = []  # literal x-data objects around the element
        self.tailwind: str | None = None
        self.tailwind_plugins: set[str] = set()
        self.tailwind_version: int | None = None  # 1-3 when the preview says which (see tailwind_compat)
        self._tailwind_before_style = False  # a compiled Tailwind link came before the first <style>
        self.uses_link = self.uses_img = self.uses_style = False

    def css_order(self) -> str:
        if self.tailwind in {None, "v4"}:
            return cascade.UNLAYERED
        return cascade.TAILWIND_BEFORE if self._tailwind_before_style else cascade.TAILWIND_AFTER

    def _initial_alpine_state(self, el: ET.Element, tag: str) -> None:
        """Alpine shows an `x-show` element only when its expression is true (and hides `x-cloak` until
        then); React renders what the HTML says. The element starts as Alpine starts it: `x-show` read
        against the literal `x-data` around it, hidden when that cannot be read (menus, modals and
        overlays start closed); the toggle itself is left to the page agent, with a notice."""
        expression = el.get("x-show", "").strip()
        shown = self._alpine_value(expression) if expression else None
        what = (
            f"<{tag}{_describe(el)}> with x-show={expression!r}" if expression else f"<{tag}{_describe(el)}>"
        )
        if shown:
            return
        style = el.get("style", "").strip().rstrip(";")
        el.set("style", f"{style}; display: none" if style else "display: none")
        self.notice(
            "static_behaviour",
            f"{what} starts hidden as in the preview; its Alpine.js toggle needs re-implementing in React",
        )

    def _alpine_value(self, expression: str) -> bool | None:
        negate = expression.startswith("!")
        name = expression.lstrip("!").strip()
        if not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
            return None
        for data in reversed(self.alpine_scopes):
            if name in data and isinstance(data[name], bool):
                return data[name] != negate
        return None

    def _translate_classes(self, el: ET.Element, tag: str) -> None:
        classes = el.get("class", "").split()
        if self.tailwind in {"play", "css"}:  # Tailwind 1-3 names → Tailwind 4
            classes, dropped = translate_classes(classes, self.tailwind_version)
            el.set("class", " ".join(classes))
            why = "Tailwind 4 has no such class"
            if self.tailwind_version:
                why = f"it had no CSS in the preview's Tailwind {self.tailwind_version} or has none in Tailwind 4"
            for cls in dropped:
                self.notice("unknown_class", f"dropped the class {cls!r} on <{tag}>: {why}")

    def important_rule(self, declarations: str) -> str:
        name = f"appgen-important-{len(self.important_rules) + 1}"
        self.important_rules.append(f".{name} {{ {declarations}; }}")
        return name

    def notice(self, code: str, message: str) -> None:
        self.notices.append(Notice(code, message))

    # -- elements that never render: head content, scripts, styles ----------------------------------------
    def head_element(self, el: ET.Element) -> None:
        if not isinstance(el.tag, str):
            return
        tag, _ = _local(el.tag)
        if tag in {"script", "style", "link"}:
            self._non_visual(el, tag)

    def _non_visual(self, el: ET.Element, tag: str) -> None:
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

    # -- JSX -------------------------------------------------------------------------------------------------
    def element(self, el: ET.Element, depth: int, in_pre: bool) -> list[str]:
        tag, svg = _local(el.tag)
        pad = "  " * depth
        if not svg and el.tag.startswith("{"):
            self.notice("dropped_element", f"dropped <{tag}> (MathML is not supported by React's types)")
            return []
        if not svg and tag in {"script", "style", "link", "meta", "title", "base", "head"}:
            self._non_visual(el, tag)
            return []
        if not svg and tag in {"template", "noscript"}:
            self.notice("dropped_element", f"dropped <{tag}>: its content is not shown on the page")
            return []
        known = rp.SVG_TAGS if svg else rp.HTML_TAGS
        if tag not in known and tag != "div":
            self.notice("unwrapped_element", f"replaced <{tag}> by its content: React has no such element")
            return self.children(el, depth, in_pre, parent=tag)
        if svg and tag in {"script"}:
            self.notice("dropped_script", "dropped a script inside an SVG")
            return []
        jsx_tag = tag
        if not svg and ("x-show" in el.attrib or "x-cloak" in el.attrib):
            self._initial_alpine_state(el, tag)
        if el.get("class"):
            self._translate_classes(el, tag)
        props = convert_attributes(el, tag, svg, self.notice, self.important_rule)
        self.uses_style = self.uses_style or any(name == "style" for name, _ in props)
        if tag == "a" and not svg:
            target = self.resolve_link(el.get("href", ""))
            if target is not None:
                jsx_tag = "Link"
                self.uses_link = True
                props = [("href", attr_value(target)) if name == "href" else (name, v) for name, v in props]
        if tag == "img" and not svg:
            self.uses_img = True
        opening = _opening(jsx_tag, props, pad)
        if not svg and (tag == "textarea" or tag in rp.VOID):
            return [*opening[:-1], opening[-1] + " />"]
        scope = _alpine_data(el.get("x-data"))
        if scope is not None:
            self.alpine_scopes.append(scope)
        if svg and tag == "style":
            body = [f"{pad}  {{{js_string(el.text or '')}}}"]
        else:
            body = self.children(el, depth + 1, in_pre or tag == "pre", parent=tag, svg=svg)
        if scope is not None:
            self.alpine_scopes.pop()
        if not body:
            return [*opening[:-1], opening[-1] + " />"]
        closing = f"</{jsx_tag}>"
        if len(opening) == 1 and len(body) == 1 and not body[0].lstrip().startswith("<"):
            line = f"{opening[0]}>{body[0].strip()}{closing}"  # short text content stays on one line
            if len(line) <= _MAX_ATTR_LINE:
                return [line]
        return [*opening[:-1], opening[-1] + ">", *body, pad + closing]

    def children(
        self, el: ET.Element, depth: int, in_pre: bool, *, parent: str, svg: bool = False
    ) -> list[str]:
        items = list(_items(el))
        pad = "  " * depth
        boxed = parent in BLOCK or bool(_FLEX_OR_GRID.intersection(el.get("class", "").split()))
        lines: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                lines += self.element(item, depth, in_pre)
                continue
            if in_pre:
                lines.append(f"{pad}{{{js_string(item)}}}")
                continue
            text = _WS.sub(" ", item)
            if not text.strip() and (parent in _NO_TEXT or (svg and parent not in _SVG_TEXT)):
                continue
            before = items[index - 1] if index else None
            after = items[index + 1] if index + 1 < len(items) else None
            keep_lead = text.startswith(" ") and _space_matters(before, boxed)
            keep_trail = text.endswith(" ") and _space_matters(after, boxed)
            core = text.strip(" ")
            if not core:
                if keep_lead and keep_trail:
                    lines.append(f'{pad}{{" "}}')
                continue
            lines.append(
                pad + ('{" "}' if keep_lead else "") + _jsx_text(core) + ('{" "}' if keep_trail else "")
            )
        return lines


def _alpine_data(value: str | None) -> dict[str, object] | None:
    """A literal `x-data="{ open: false }"` as a dict; `{}` for `x-data="data()"` (unknown values)."""
    if value is None:
        return None
    try:
        data, _ = parse_object_literal(value.strip())
    except JsObjectError:
        return {}
    return data


def _describe(el: ET.Element) -> str:
    """` id="x"` or ` class="first classes"`: enough to find the element in the preview."""
    if el.get("id"):
        return f' id="{el.get("id")}"'
    classes = el.get("class", "").split()
    return f' class="{" ".join(classes[:4])}{" …" if len(classes) > 4 else ""}"' if classes else ""


def with_css_imports(tsx: str, modules: list[str]) -> str:
    """The component importing `modules` (CSS of starter packages, see `assets`) before its own page CSS,
    as the preview linked them before its `<style>`: the page that linked Bootstrap gets Bootstrap, and
    the app's other pages do not (its reboot and `!important` utilities would restyle them)."""
    if not modules:
        return tsx
    lines = tsx.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(('import "', "export default function")))
    added = [f"import {js_string(module)};" for module in modules]
    if lines[at].startswith("export"):  # no page CSS: after the other imports, before the blank line
        at, added = (at - 1, added) if at and not lines[at - 1] else (at, [*added, ""])
    return "\n".join(lines[:at] + added + lines[at:])


def with_runtime_stylesheets(tsx: str, hrefs: list[str]) -> str:
    """The component with `<link rel="stylesheet">`s React 19 hoists into <head> (`precedence`), for
    stylesheets no starter package provides (see `assets`)."""
    if not hrefs:
        return tsx
    start = tsx.index("  return (\n") + len("  return (\n")
    end = tsx.rindex("\n  );\n}")
    links = "".join(
        f'      <link rel="stylesheet" href={attr_value(h)} precedence="default" />\n' for h in hrefs
    )
    return tsx[:start] + "    <>\n" + links + tsx[start:end] + "\n    </>" + tsx[end:]


def _items(el: ET.Element) -> Iterator[str | ET.Element]:
    """Children as text and elements, comments dropped and the text around them merged."""
    text = el.text or ""
    for child in el:
        if isinstance(child.tag, str):
            if text:
                yield text
            text = ""
            yield child
        text += child.tail or ""
    if text:
        yield text


def _space_matters(neighbour: str | ET.Element | None, boxed: bool) -> bool:
    """A space next to an inline neighbour renders; at the edge of a block, flex or grid box, or next to a
    block, it never does."""
    if neighbour is None:
        return not boxed
    if isinstance(neighbour, str):
        return True
    return _local(neighbour.tag)[0] not in BLOCK


def _opening(tag: str, props: list[tuple[str, str | None]], pad: str) -> list[str]:
    parts = [name if value is None else f"{name}={value}" for name, value in props]
    line = f"{pad}<{tag}" + "".join(" " + part for part in parts)
    if len(line) <= _MAX_ATTR_LINE or len(parts) < 2:
        return [line]
    return [f"{pad}<{tag}", *(f"{pad}  {part}" for part in parts[:-1]), f"{pad}  {parts[-1]}"]


def _jsx_text(text: str) -> str:
    """Text for a JSX child: the characters JSX or react/no-unescaped-entities reject become entities."""
    return _TEXT_ESCAPE.sub(lambda m: _TEXT_ESCAPES[m.group()], text)
