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
`jsx_text`, what never renders (styles, scripts, stylesheet links) is read by `preview_head`, the files
are laid out by `tsx_file`, and Alpine.js components become client components or keep their start
state in `alpine`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

import html5lib

from appgen.scaffold import cascade, preview_head
from appgen.scaffold import react_props as rp
from appgen.scaffold.alpine import jsx as alpine_jsx
from appgen.scaffold.alpine import start_state
from appgen.scaffold.alpine.behaviour import Behaviour
from appgen.scaffold.alpine.directives import describe
from appgen.scaffold.alpine.island import Island, cover_the_page, plan_island
from appgen.scaffold.jsx_props import attr_value, convert_attributes, js_string
from appgen.scaffold.jsx_text import MAX_LINE, child_items, is_boxed, local_name, opening_lines, text_lines
from appgen.scaffold.preview_head import PreviewHead
from appgen.scaffold.tailwind_compat import translate_classes
from appgen.scaffold.tsx_file import TsxFile, module


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
        label = cover_the_page(root, body, wrapper)
        if label is not None:
            converter.labels[wrapper] = label
        wrapper.text = body.text
        wrapper.extend(list(body))
    body_lines = converter.element(wrapper, 2, in_pre=False)
    read = converter.head
    own = "\n\n".join(block.strip() for block in read.styles if block.strip())
    css = cascade.layer_page_css(own, read.css_order()) if own else ""
    if converter.important_rules:
        # Inline `!important` declarations, as classes in the first layer: important declarations of an
        # earlier layer beat those of later layers and unlayered ones, the nearest to an inline style's.
        rules = "\n".join(f"  {rule}" for rule in converter.important_rules)
        css = (css.rstrip() + "\n\n" if css.strip() else "") + f"@layer base {{\n{rules}\n}}"
    if read.tailwind is None:
        # After the page's CSS: an `@import` it has must stay first.
        css = (css.rstrip() + "\n\n" if css.strip() else "") + cascade.without_tailwind_base(page_id)
    css = css.strip()
    head_lines = converter.file.head()
    if css:
        head_lines.append(f'import "{css_import}";')
    return ConvertedPage(
        tsx=module(head_lines, f"export default function {component}() {{", [], body_lines),
        css=css + "\n" if css else "",
        title=preview_head.title(root),
        description=preview_head.meta_description(root),
        lang=root.get("lang") or None,
        scripts=read.scripts,
        notices=converter.notices,
        stylesheets=read.stylesheets,
        tailwind=read.tailwind,
        tailwind_plugins=read.tailwind_plugins,
        components=converter.components,
    )


class _Converter:
    def __init__(self, resolve_link: Callable[[str], str | None]) -> None:
        self.resolve_link = resolve_link
        self.notices: list[Notice] = []
        self.head = PreviewHead(self.notice)
        self.important_rules: list[str] = []
        self.alpine_scopes: list[dict[str, object]] = []  # literal x-data objects around the element
        self.page_scripts: list[str] = []  # inline scripts, where x-data="data()" finds its object
        self.island: Island | None = None  # the Alpine component being converted, if any
        self.labels: dict[ET.Element, str] = {}  # how notices name an element that stands for another
        self.components: dict[str, str] = {}
        self.file = TsxFile()

    def _translate_classes(self, el: ET.Element, tag: str) -> None:
        classes = self._tailwind4(el.get("class", "").split(), tag)
        if self.head.tailwind in {"play", "css"}:
            el.set("class", " ".join(classes))

    def _tailwind4(self, classes: list[str], tag: str) -> list[str]:
        """The classes as the page uses them: Tailwind 1-3 names become Tailwind 4's, and those with no
        equivalent (or no CSS in the preview's Tailwind version) are dropped with a notice."""
        if self.head.tailwind in {"play", "css"}:
            version = self.head.tailwind_version
            classes, dropped = translate_classes(classes, version)
            why = "Tailwind 4 has no such class"
            if version:
                why = f"it had no CSS in the preview's Tailwind {version} or has none in Tailwind 4"
            for cls in dropped:
                self.notice("unknown_class", f"dropped the class {cls!r} on <{tag}>: {why}")
        return classes

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
            self.head.take(el, tag)

    # -- JSX -------------------------------------------------------------------------------------------------
    def element(self, el: ET.Element, depth: int, in_pre: bool) -> list[str]:
        tag, svg = local_name(el.tag)
        pad = "  " * depth
        if not svg and el.tag.startswith("{"):
            self.notice("dropped_element", f"dropped <{tag}> (MathML is not supported by React's types)")
            return []
        if not svg and tag in {"script", "style", "link", "meta", "title", "base", "head"}:
            self.head.take(el, tag)
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
        outer, self.file, self.island = self.file, TsxFile(), island
        try:
            body = self.element(el, 2, in_pre=False)
        finally:
            self.island = None
        file, self.file = self.file, outer
        name = alpine_jsx.component_name(el, self.labels.get(el, ""), self.components)
        self.components.update(alpine_jsx.component_files(name, island, file, body))
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
        """The classes of a converted `:class`, translated like static ones."""
        out = []
        for text, test in behaviour.classes:
            classes = self._tailwind4(text.split(), tag)
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
