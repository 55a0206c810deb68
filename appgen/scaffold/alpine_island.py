"""An Alpine.js component of a preview → a small `"use client"` React component with state (issue 13).

The element carrying `x-data` (or `<html>`/`<body>`, whose scope then covers the whole page) becomes
`components/<pageId>/Alpine<Name>.tsx`, and the page renders it where the element was; the page itself
stays a server component. Its fields become `useState`, its methods `const`s, and these directives of
the elements inside it become React (the grammar of their values is `alpine`'s):

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

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from appgen.scaffold import alpine
from appgen.scaffold import alpine_grammar as grammar
from appgen.scaffold import react_props as rp
from appgen.scaffold.alpine import Field, Names, Scope, Unsupported, describe
from appgen.scaffold.alpine_code import Code, function
from appgen.scaffold.jsx_props import Notify

HOOKS_FILE = "alpine.ts"
# Elements the page never renders: what they carry cannot convert (`<template x-if>` is handled apart).
_NOT_RENDERED = frozenset({"script", "style", "noscript", "head", "title", "meta", "link"})
_EVENTS = {"click": "onClick", "mouseenter": "onMouseEnter", "mouseleave": "onMouseLeave"}
_KEY_EVENTS = {"keydown": "onKeyDown", "keyup": "onKeyUp"}
_KEYS = {"escape": "Escape", "esc": "Escape", "enter": "Enter"}
_DIRECTIVE = re.compile(
    r"(?:x-on:|@)([a-z-]+)((?:\.[\w-]+)*)$|(?:x-bind:|:)([\w-]+)$|(x-[a-z-]+)(?::[\w:-]+)?((?:\.[\w-]+)*)$"
)
_ARIA_BOOLEAN = frozenset(
    f"aria-{n}" for n in rp.names("expanded hidden selected pressed checked disabled busy modal current")
)


def is_directive(name: str) -> bool:
    return name.startswith(("x-", "@", ":"))


@dataclass
class Behaviour:
    """What the island makes of one element's Alpine attributes."""

    consumed: set[str] = field(default_factory=set)  # attributes converted: not rendered as attributes
    props: list[tuple[str, str]] = field(default_factory=list)  # JSX props to add (name, `{…}`)
    shown: str | None = None  # x-show: the TypeScript condition
    classes: list[tuple[str, str]] = field(default_factory=list)  # :class object: (classes, condition)
    class_expr: str | None = None  # :class string expression
    condition: str | None = None  # <template x-if>
    handlers: dict[str, list[tuple[str | None, list[str], list[str]]]] = field(default_factory=dict)


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
        self.code = Code(label)
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
            read = alpine.read_scope(el.get("x-data", ""), self.scripts)
            if isinstance(read, str):
                self.problems.append(f"{_what(el)} not converted: {read}")
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
        events = [d for d in self._directives if _kind(d.name)[0] == "on"]
        for scope in self._scopes:
            bodies = [m.body for m in scope.methods.values()]
            grammar.infer_types([scope], bodies, this=True)
        for event in events:
            grammar.infer_types(event.chain, [event.value], this=False)
        self.code.read_names = self._reads(events)
        for d in self._directives:
            if any(self.behaviours.get(t, Behaviour()).condition is None for t in d.within):
                continue  # inside a <template> that is not rendered (x-for, or an x-if not converted)
            try:
                self._directive(d.el, d.name, d.value, d.chain)
            except Unsupported as exc:
                self.problems.append(f"{_what(d.el)} {d.name}={d.value[:60]!r} not converted: {exc}")
        for el, behaviour in self.behaviours.items():
            self._finish(el, behaviour)

    def _reads(self, events: list[_Directive]) -> set[str]:
        """Names what the page shows depends on: read by directives other than event handlers, or by any
        statement that converts. A statement outside the grammar that assigns one of these cannot be
        dropped."""
        names: set[str] = set()
        for d in self._directives:
            if _kind(d.name)[0] != "on":
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

    def _directive(self, el: ET.Element, name: str, value: str, chain: list[Scope]) -> None:
        kind, arg, modifiers = _kind(name)
        behaviour = self.behaviours.setdefault(el, Behaviour())
        names = Names(chain)
        if kind in {"x-data", "x-cloak"}:
            behaviour.consumed.add(name)
        elif kind == "x-transition":
            return  # dropped by the attribute conversion, with its notice
        elif kind == "x-show":
            ts, _, reads = grammar.expression(value, names)
            self.code.read(reads)
            behaviour.shown = ts
            behaviour.consumed.add(name)
        elif kind == "x-if" and el.tag == "template":
            ts, _, reads = grammar.expression(value, names)
            self.code.read(reads)
            behaviour.condition = ts
            behaviour.consumed.add(name)
        elif kind == "bind" and arg == "class":
            self._class(behaviour, value, names)
            behaviour.consumed.add(name)
        elif kind == "bind" and arg in _ARIA_BOOLEAN:
            ts, types, reads = grammar.expression(value, names)
            if types != {"boolean"}:
                raise Unsupported(f"{arg} needs a boolean")
            self.code.read(reads)
            behaviour.props.append((arg, "{" + ts + "}"))
            behaviour.consumed.add(name)
        elif kind == "on":
            self._event(el, behaviour, arg, modifiers, value, names)
            behaviour.consumed.add(name)
        else:
            raise Unsupported(f"{kind if kind != 'bind' else ':' + arg} is not converted")

    def _class(self, behaviour: Behaviour, value: str, names: Names) -> None:
        toks = grammar.tokens(value)
        if not toks or toks[0] != ("op", "{"):
            ts, types, fields = grammar.expression(value, names)
            if types != {"string"}:
                raise Unsupported(":class is neither an object nor a string expression")
            self.code.read(fields)
            behaviour.class_expr = ts
            return
        if toks[-1] != ("op", "}"):
            raise Unsupported(":class object is not closed")
        entries: list[tuple[str, str]] = []
        reads: list[Field] = []
        for part in _split_tokens(toks[1:-1]):
            if len(part) < 3 or part[0][0] not in {"str", "name"} or part[1] != ("op", ":"):
                raise Unsupported(":class object has an entry that is not `'classes': condition`")
            classes = part[0][1].strip("'\"") if part[0][0] == "str" else part[0][1]
            reader = grammar.Expression(part[2:], names)
            ts, _ = reader.parse()
            reads += reader.fields_read
            entries.append((" ".join(classes.split()), ts))
        self.code.read(reads)
        behaviour.classes += entries

    def _event(
        self, el: ET.Element, behaviour: Behaviour, event: str, modifiers: list[str], value: str, names: Names
    ) -> None:
        mods = set(modifiers)
        if event == "click" and mods & {"away", "outside"}:
            if mods - {"away", "outside"}:
                raise Unsupported(f"the modifiers {'.'.join(sorted(mods))} are not converted together")
            if any(prop == "ref" for prop, _ in behaviour.props):
                raise Unsupported("a second click-away handler on one element")
            plan = self.code.statements(value, names, alone=True)
            ref = self.code.identifier("awayRef")
            self.code.hooks.append(f"const {ref} = useClickAway({function(plan)});")
            behaviour.props.append(("ref", "{" + ref + "}"))
            self.code.commit(plan)
            return
        key = None
        if event in _KEY_EVENTS:
            keys = [m for m in modifiers if m in _KEYS]
            if len(keys) != 1:
                raise Unsupported(f"@{event} is converted for one key (escape or enter)")
            key = _KEYS[keys[0]]
            mods.discard(keys[0])
            if "window" in mods:
                if mods - {"window"}:
                    raise Unsupported(f"the modifiers {'.'.join(sorted(mods))} are not converted together")
                plan = self.code.statements(value, names, alone=True)
                self.code.hooks.append(f"useWindowKey({alpine.literal(key)}, {function(plan)});")
                self.code.commit(plan)
                return
        elif event not in _EVENTS:
            raise Unsupported(f"the event {event} is not converted")
        if mods - {"prevent", "stop", "self"}:
            raise Unsupported(
                f"the modifiers {'.'.join(sorted(mods - {'prevent', 'stop', 'self'}))} are not converted"
            )
        plan = self.code.statements(value, names, alone=True)
        prop = _KEY_EVENTS.get(event) or _EVENTS[event]
        guard = f"event.key === {alpine.literal(key)}" if key else None
        before = []
        if "self" in mods:
            guard = " && ".join(filter(None, [guard, "event.target === event.currentTarget"]))
        if "prevent" in mods:
            before.append("event.preventDefault()")
        if "stop" in mods:
            before.append("event.stopPropagation()")
        behaviour.handlers.setdefault(prop, []).append((guard, before, plan.ts))
        self.code.commit(plan)

    def _finish(self, el: ET.Element, behaviour: Behaviour) -> None:
        for prop, handlers in behaviour.handlers.items():
            uses_event = any(guard or before for guard, before, _ in handlers)
            if len(handlers) == 1 and not uses_event and len(handlers[0][2]) == 1:
                body = handlers[0][2][0]
                call = re.fullmatch(r"([\w$]+)\(\)", body)
                value = (
                    call.group(1) if call and call.group(1) in self.code.method_names() else f"() => {body}"
                )
                behaviour.props.append((prop, "{" + value + "}"))
                continue
            lines = []
            for guard, before, statements_ in handlers:
                statements = " ".join(f"{line};" for line in [*before, *statements_])
                lines.append(f"if ({guard}) {{ {statements} }}" if guard else statements)
            behaviour.props.append(
                (prop, "{(" + ("event" if uses_event else "") + ") => { " + " ".join(lines) + " }}")
            )


def plan_island(root: ET.Element, label: str, scripts: list[str], notify: Notify) -> Island | None:
    """The island of an element with `x-data`, or None (with a notice) when it stays static."""
    scope = alpine.read_scope(root.get("x-data", ""), scripts)
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


def _kind(name: str) -> tuple[str, str, list[str]]:
    """`@click.away` → ("on", "click", ["away"]); `:class` → ("bind", "class", []); `x-show.transition`
    → ("x-show", "", ["transition"])."""
    match = _DIRECTIVE.match(name)
    if not match:
        return name, "", []
    if match.group(1):
        return "on", match.group(1), [m for m in match.group(2).split(".") if m]
    if match.group(3):
        return "bind", match.group(3), []
    return match.group(4), "", [m for m in (match.group(5) or "").split(".") if m]


def _split_tokens(toks: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    parts: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for tok in toks:
        if tok[0] == "op" and tok[1] in "({":
            depth += 1
        elif tok[0] == "op" and tok[1] in ")}":
            depth -= 1
        if tok == ("op", ",") and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def _what(el: ET.Element) -> str:
    return f"<{el.tag.rpartition('}')[2]}{describe(el)}>"
