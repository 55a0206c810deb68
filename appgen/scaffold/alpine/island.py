"""An Alpine.js component of a preview → a small `"use client"` React component with state (issue 13).

The element carrying `x-data` (or `<html>`/`<body>`, whose scope then covers the whole page) becomes
`components/<pageId>/Alpine<Name>.tsx`, and the page renders it where the element was; the page itself
stays a server component. Its fields become `useState`, its methods `const`s, and these directives of
the elements inside it become React (`behaviour`; the grammar of their values is `grammar`'s):

| Alpine | React |
|---|---|
| `@click`/`x-on:click` (`.prevent`, `.stop`, `.self`), `@mouseenter`, `@mouseleave` | `onClick`… |
| `@keydown.escape`/`.enter` (`@keyup` too) | `onKeyDown` checking `event.key` |
| `@keydown.escape.window` | `useWindowKey` (a listener on `window`) |
| `@click.away`/`@click.outside` | `useClickAway` (a click outside the element while it is shown) |
| `x-show` | `style` with `display: none` while false (as Alpine does) |
| `<template x-if>` | `{condition ? (…) : null}` |
| `:class` object (`{ 'a b': open }`) or string expression | `className` template literal |
| `:aria-expanded` and the other boolean `aria-*` | the same prop |
| `x-cloak` | dropped (Alpine removes it once the component starts) |

Everything else — `x-for`, `x-model`, `x-text`, `x-ref`/`$refs`, `x-init`, other bindings and events,
expressions outside the grammar — stays as the scaffold renders it without behaviour (the initial state,
hidden where `x-show` cannot be read), and each case is an `alpine_not_converted` notice naming the
element. A component where nothing that changes state converts is not a component at all: it stays
static, with one notice naming its root. `x-transition` is dropped (the toggle snaps instead of
animating), reported like other dropped attributes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from appgen.scaffold.alpine import grammar
from appgen.scaffold.alpine.behaviour import Behaviour, convert, finish
from appgen.scaffold.alpine.directives import is_directive, kind, what
from appgen.scaffold.alpine.react_code import ReactCode
from appgen.scaffold.alpine.scope import Names, Scope, Unsupported, read_scope
from appgen.scaffold.jsx_props import Notify

PAGE_LABELS = frozenset({"<html>", "<body>"})  # how notices name an x-data covering the whole page
# Elements the page never renders: what they carry cannot convert (`<template x-if>` is handled apart).
_NOT_RENDERED = frozenset({"script", "style", "noscript", "head", "title", "meta", "link"})


@dataclass(frozen=True)
class _Directive:
    el: ET.Element
    name: str
    value: str
    chain: list[Scope]  # the scopes around it, outermost first
    within: tuple[ET.Element, ...]  # the <template>s around it


class Island:
    def __init__(self, root: ET.Element, scope: Scope, label: str, scripts: list[str]) -> None:
        self.root = root
        self.label = label
        self.scripts = scripts
        self.code = ReactCode(label)
        self.behaviours: dict[ET.Element, Behaviour] = {}
        self._directives: list[_Directive] = []
        self._scopes: list[Scope] = []
        self._collect(root, [], scope)

    @property
    def problems(self) -> list[str]:
        return self.code.problems

    # -- planning ------------------------------------------------------------------------------------------
    def _collect(
        self,
        el: ET.Element,
        chain: list[Scope],
        scope: Scope | None = None,
        within: tuple[ET.Element, ...] = (),
    ) -> None:
        """Scopes and directives of the subtree; `within`: the `<template>`s around the element."""
        if el.tag in _NOT_RENDERED:
            return
        if scope is None and "x-data" in el.attrib:
            read = read_scope(el.get("x-data", ""), self.scripts)
            if isinstance(read, str):
                self.problems.append(f"{what(el)} not converted: {read}")
                read = Scope(opaque=True)
            scope = read
        if scope is not None:
            self._scopes.append(scope)
            self.code.add_scope(scope)
            chain = [*chain, scope]
        for name, value in el.attrib.items():
            if is_directive(name):
                self._directives.append(_Directive(el, name, value, chain, within))
        if el.tag == "template":
            within = (*within, el)
        for child in el:
            if isinstance(child.tag, str):
                self._collect(child, chain, within=within)

    def plan(self) -> None:
        events = [d for d in self._directives if kind(d.name)[0] == "on"]
        for scope in self._scopes:
            bodies = [m.body for m in scope.methods.values()]
            grammar.infer_types([scope], bodies, this=True)
        for event in events:
            grammar.infer_types(event.chain, [event.value], this=False)
        self.code.read_names = self._reads(events)
        for d in self._directives:
            if any(self.behaviours.get(t, Behaviour()).condition is None for t in d.within):
                continue  # inside a <template> that is not rendered (x-for, or an x-if not converted)
            behaviour = self.behaviours.setdefault(d.el, Behaviour())
            try:
                convert(self.code, behaviour, d.el.tag, d.name, d.value, Names(d.chain))
            except Unsupported as exc:
                self.problems.append(f"{what(d.el)} {d.name}={d.value[:60]!r} not converted: {exc}")
        for behaviour in self.behaviours.values():
            finish(self.code, behaviour)

    def _reads(self, events: list[_Directive]) -> set[str]:
        """Names what the page shows depends on: read by directives other than event handlers, or by any
        statement that converts. A statement outside the grammar that assigns one of these cannot be
        dropped."""
        names: set[str] = set()
        for d in self._directives:
            if kind(d.name)[0] != "on":
                names |= grammar.identifiers(d.value)
        sources = [(d.value, Names(d.chain)) for d in events]
        sources += [(m.body, Names([s], this=True)) for s in self._scopes for m in s.methods.values()]
        for text, names_ in sources:
            for part in grammar.split_statements(text):
                try:
                    found = grammar.statement(part, names_, alone=True)
                except Unsupported:
                    continue
                if isinstance(found, grammar.Assign):
                    names |= {f.name for f in found.reads}
        return names


def plan_island(root: ET.Element, label: str, scripts: list[str], notify: Notify) -> Island | None:
    """The island of an element with `x-data`, or None (with a notice) when it stays static."""
    scope = read_scope(root.get("x-data", ""), scripts)
    directives = sum(1 for el in root.iter() if isinstance(el.tag, str) for n in el.attrib if is_directive(n))
    if isinstance(scope, str):
        notify("alpine_not_converted", f"{label}: {scope}; its {directives} Alpine attributes stay static")
        return None
    island = Island(root, scope, label, scripts)
    island.plan()
    if not island.code.changes_state:
        reason = island.problems[0] if island.problems else "no handler changes its state"
        notify(
            "alpine_not_converted",
            f"{label} x-data={root.get('x-data', '')[:60]!r}: nothing that changes its state converts "
            f"(first: {reason}); its {directives} Alpine attributes stay static",
        )
        return None
    for problem in island.problems:
        notify("alpine_not_converted", problem)
    return island


def cover_the_page(root: ET.Element, body: ET.Element, wrapper: ET.Element) -> str | None:
    """Alpine on `<body>`, or `<html>`'s x-data, covers the whole page: the page's `wrapper` element takes
    `<body>`'s directives and the x-data of either. Returns how notices name it (one of `PAGE_LABELS`),
    or None when the page as a whole has no x-data."""
    for name, value in body.attrib.items():
        if is_directive(name):
            wrapper.set(name, value)
    if "x-data" in root.attrib and "x-data" not in body.attrib:
        wrapper.set("x-data", root.get("x-data", ""))
        return "<html>"
    return "<body>" if "x-data" in body.attrib else None
