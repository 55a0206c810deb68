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

This module walks the tree; attributes become props in `jsx_props`, text and whitespace become JSX in
`jsx_text`; Alpine.js components become client components or keep their start state in `alpine`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

import html5lib

from appgen.scaffold import cascade
from appgen.scaffold import react_props as rp
from appgen.scaffold.alpine import jsx as alpine_jsx
from appgen.scaffold.alpine import start_state
from appgen.scaffold.alpine.behaviour import Behaviour
from appgen.scaffold.alpine.directives import describe, is_directive
from appgen.scaffold.alpine.island import Island, plan_island
from appgen.scaffold.jsx_props import attr_value, convert_attributes, js_string
from appgen.scaffold.jsx_text import (
    MAX_LINE,
    WS,
    child_items,
    is_boxed,
    local_name,
    opening_lines,
    text_lines,
)
from appgen.scaffold.tailwind_compat import translate_classes

_TAILWIND_CDN = re.compile(r"cdn\.tailwindcss\.com|@tailwindcss/browser", re.I)
_TAILWIND_V4 = re.compile(r"@tailwindcss/browser", re.I)
# A compiled Tailwind stylesheet from a CDN (`unpkg.com/tailwindcss@2.2.19/dist/tailwind.min.css`): the
# app builds Tailwind itself, so the link goes (its classes are translated to Tailwind 4, see `tailwind`).
_TAILWIND_CSS = re.compile(r"/tailwindcss@[\d.^~]*/dist/[\w.-]+\.css|/tailwind(?:\.min)?\.css$", re.I)


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
    classes: set[str] = field(default_factory=set)  # every class the page uses (after translation)
    tailwind: str | None = None  # "play" (v2/v3 Play CDN), "v4" (browser build), "css" (compiled link)
    # Files next to the page's component: Alpine.js components as client components (`alpine`).
    components: dict[str, str] = field(default_factory=dict)


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
    converter.page_scripts = [el.text or "" for el in root.iter("script") if not el.get("src")]
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
        for name, value in body.attrib.items():  # Alpine on <body>, or <html>'s x-data, covers the page
            if is_directive(name):
                wrapper.set(name, value)
        if "x-data" in root.attrib and "x-data" not in body.attrib:
            wrapper.set("x-data", root.get("x-data", ""))
            converter.labels[wrapper] = "<html>"
        elif "x-data" in body.attrib:
            converter.labels[wrapper] = "<body>"
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
    css = css.strip()
    head_lines = converter.file.head()
    if css:
        head_lines.append(f'import "{css_import}";')
    return ConvertedPage(
        tsx=_module(head_lines, f"export default function {component}() {{", [], body_lines),
        css=css + "\n" if css else "",
        title=_title(root),
        description=_meta_description(root),
        lang=root.get("lang") or None,
        scripts=converter.scripts,
        notices=converter.notices,
        stylesheets=converter.stylesheets,
        classes=converter.classes,
        tailwind=converter.tailwind,
        components=converter.components,
    )


def _module(head: list[str], signature: str, declarations: list[str], body: list[str]) -> str:
    lines = [*head, "", signature, *declarations, "  return (", *body, "  );", "}", ""]
    return "\n".join(lines).lstrip("\n")


@dataclass
class _File:
    """What one TSX file's JSX needs imported."""

    uses_link: bool = False
    uses_img: bool = False
    uses_style: bool = False
    imports: list[str] = field(default_factory=list)  # the page's own components

    def head(self, react: tuple[str, ...] = ()) -> list[str]:
        head = []
        if self.uses_img:
            head.append(
                "/* eslint-disable @next/next/no-img-element -- preview images are kept as they were */"
            )
        values = [*(["type CSSProperties"] if self.uses_style else []), *react]
        if values == ["type CSSProperties"]:
            head.append('import type { CSSProperties } from "react";')
        elif values:
            head.append(f'import {{ {", ".join(values)} }} from "react";')
        if self.uses_link:
            head.append('import Link from "next/link";')
        return head + self.imports


def _title(root: ET.Element) -> str | None:
    for el in root.iter("title"):  # SVG titles carry the SVG namespace and do not match
        text = WS.sub(" ", el.text or "").strip()
        return text or None
    return None


def _meta_description(root: ET.Element) -> str | None:
    for el in root.iter("meta"):
        if el.get("name", "").lower() == "description" and el.get("content", "").strip():
            return el.get("content", "").strip()
    return None


class _Converter:
    def __init__(self, resolve_link: Callable[[str], str | None]) -> None:
        self.resolve_link = resolve_link
        self.notices: list[Notice] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.important_rules: list[str] = []
        self.classes: set[str] = set()
        self.alpine_scopes: list[dict[str, object]] = []  # literal x-data objects around the element
        self.page_scripts: list[str] = []  # inline scripts, where x-data="data()" finds its object
        self.island: Island | None = None  # the Alpine component being converted, if any
        self.labels: dict[ET.Element, str] = {}  # how notices name an element that stands for another
        self.components: dict[str, str] = {}
        self.file = _File()
        self.tailwind: str | None = None
        self._tailwind_before_style = False  # a compiled Tailwind link came before the first <style>

    def css_order(self) -> str:
        if self.tailwind in {None, "v4"}:
            return cascade.UNLAYERED
        return cascade.TAILWIND_BEFORE if self._tailwind_before_style else cascade.TAILWIND_AFTER

    def _translate_classes(self, el: ET.Element, tag: str) -> None:
        classes = el.get("class", "").split()
        if self.tailwind in {"play", "css"}:  # Tailwind 1-3 names → Tailwind 4
            classes, dropped = translate_classes(classes)
            el.set("class", " ".join(classes))
            for cls in dropped:
                self.notice(
                    "unknown_class", f"dropped the class {cls!r} on <{tag}>: Tailwind 4 has no such class"
                )
        self.classes.update(classes)

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
        tag, _ = local_name(el.tag)
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
                return  # the app builds Tailwind itself
            if "tailwind.config" in text:
                return  # the config becomes @theme tokens
            what = f"the script {src}" if src else f"an inline script ({len(text)} characters)"
            self.notice("dropped_script", f"dropped {what}; its behaviour needs re-implementing in React")
        elif tag == "link" and "stylesheet" in el.get("rel", "").lower().split():
            href = el.get("href", "").strip()
            if _TAILWIND_CSS.search(href.split("?")[0]):
                self.tailwind = self.tailwind or "css"
            elif href:
                self.stylesheets.append(href)  # the scaffold decides: an npm package, or kept as a link

    # -- JSX -------------------------------------------------------------------------------------------------
    def element(self, el: ET.Element, depth: int, in_pre: bool) -> list[str]:
        tag, svg = local_name(el.tag)
        pad = "  " * depth
        if not svg and el.tag.startswith("{"):
            self.notice("dropped_element", f"dropped <{tag}> (MathML is not supported by React's types)")
            return []
        if not svg and tag in {"script", "style", "link", "meta", "title", "base", "head"}:
            self._non_visual(el, tag)
            return []
        behaviour = self.island.behaviours.get(el) if self.island else None
        if behaviour is not None and behaviour.condition is not None:
            return self._conditional(el, behaviour.condition, depth, in_pre)
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
        if not svg and not in_pre and self.island is None and "x-data" in el.attrib:
            label = self.labels.get(el) or f"<{tag}{describe(el)}>"
            island = plan_island(el, label, self.page_scripts, self.notice)
            if island is not None:
                return self._island(el, island, depth)
        scope = None
        if "x-data" in el.attrib:
            scope = start_state.scope_of(el.get("x-data", ""), self.page_scripts)
        for name in behaviour.consumed if behaviour else ():
            del el.attrib[name]
        jsx_tag = tag
        if not svg and ("x-show" in el.attrib or "x-cloak" in el.attrib):
            start_state.start_as_alpine_does(el, tag, self.alpine_scopes, self.notice)
        if el.get("class"):
            self._translate_classes(el, tag)
        props = convert_attributes(el, tag, svg, self.notice, self.important_rule)
        if behaviour is not None:
            props = alpine_jsx.apply(props, behaviour, self._dynamic_classes(behaviour, tag))
        self.file.uses_style |= any(name == "style" and "CSSProperties" in (v or "") for name, v in props)
        if tag == "a" and not svg:
            target = self.resolve_link(el.get("href", ""))
            if target is not None:
                jsx_tag = "Link"
                self.file.uses_link = True
                props = [("href", attr_value(target)) if name == "href" else (name, v) for name, v in props]
        if tag == "img" and not svg:
            self.file.uses_img = True
        opening = opening_lines(jsx_tag, props, pad)
        if not svg and (tag == "textarea" or tag in rp.VOID):
            return [*opening[:-1], opening[-1] + " />"]
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
            if len(line) <= MAX_LINE:
                return [line]
        return [*opening[:-1], opening[-1] + ">", *body, pad + closing]

    def _island(self, el: ET.Element, island: Island, depth: int) -> list[str]:
        """The element as its own client component, rendered where it was."""
        outer, self.file, self.island = self.file, _File(), island
        try:
            body = self.element(el, 2, in_pre=False)
        finally:
            self.island = None
        file, self.file = self.file, outer
        label = self.labels.get(el, "")
        base = "Page" if label in {"<html>", "<body>"} else _pascal(el.get("id") or el.tag)
        base = base if base.startswith("Alpine") else "Alpine" + base
        name, n = base, 1
        while f"{name}.tsx" in self.components:
            n += 1
            name = f"{base}{n}"
        hooks = island.code.hook_names()
        if hooks:
            file.imports.append(f'import {{ {", ".join(hooks)} }} from "./{alpine_jsx.HOOKS_FILE[:-3]}";')
            self.components[alpine_jsx.HOOKS_FILE] = alpine_jsx.HOOKS
        head = ['"use client";', "", *file.head(react=("useState",))]
        signature = (
            f"// The preview's Alpine.js component ({island.label}), its state in React (appgen scaffold).\n"
            f"export default function {name}() {{"
        )
        self.components[f"{name}.tsx"] = _module(head, signature, island.code.declarations(), body)
        self.file.imports.append(f'import {name} from "./{name}";')
        return [f"{'  ' * depth}<{name} />"]

    def _conditional(self, el: ET.Element, condition: str, depth: int, in_pre: bool) -> list[str]:
        """`<template x-if>`: its content while the condition holds."""
        pad = "  " * depth
        roots = [child for child in el if isinstance(child.tag, str)]
        loose = (el.text or "").strip() or any((child.tail or "").strip() for child in roots)
        single = len(roots) == 1 and not loose
        body = self.children(el, depth + (1 if single else 2), in_pre, parent="div")
        if not body:
            return []
        if not single:
            body = [f"{pad}  <>", *body, f"{pad}  </>"]
        return [f"{pad}{{{alpine_jsx.group(condition)} ? (", *body, f"{pad}) : null}}"]

    def _dynamic_classes(self, behaviour: Behaviour, tag: str) -> list[tuple[str, str]]:
        """The classes of a converted `:class`, translated and recorded like static ones."""
        out = []
        for text, test in behaviour.classes:
            classes = text.split()
            if self.tailwind in {"play", "css"}:
                classes, dropped = translate_classes(classes)
                for cls in dropped:
                    self.notice(
                        "unknown_class", f"dropped the class {cls!r} on <{tag}>: Tailwind 4 has no such class"
                    )
            self.classes.update(classes)
            if classes:
                out.append((" ".join(classes), test))
        return out

    def children(
        self, el: ET.Element, depth: int, in_pre: bool, *, parent: str, svg: bool = False
    ) -> list[str]:
        items = list(child_items(el))
        pad = "  " * depth
        boxed = is_boxed(el, parent)
        lines: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                lines += self.element(item, depth, in_pre)
                continue
            before = items[index - 1] if index else None
            after = items[index + 1] if index + 1 < len(items) else None
            lines += text_lines(item, before, after, pad, in_pre=in_pre, parent=parent, svg=svg, boxed=boxed)
        return lines


def _pascal(text: str) -> str:
    """`mobile-menu` → `MobileMenu`: a component name from an id or a tag."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)
    return name if name[:1].isalpha() else f"X{name}"


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
