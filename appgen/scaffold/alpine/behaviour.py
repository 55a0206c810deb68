"""One element's Alpine.js directives inside a converted component → what React renders for them
(`Behaviour`): the attributes consumed, the props to add, the `x-show` and `<template x-if>` conditions,
the `:class` entries, and the event handlers with their modifiers. A directive outside what converts
raises `Unsupported`, naming why; `island` turns that into a notice. The code the handlers run (state
setters, method calls, hooks) goes into the component's `ReactCode`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from appgen.scaffold import react_props as rp
from appgen.scaffold.alpine import grammar
from appgen.scaffold.alpine.directives import kind
from appgen.scaffold.alpine.react_code import ReactCode, function
from appgen.scaffold.alpine.scope import Field, Names, Unsupported, literal

_EVENTS = {"click": "onClick", "mouseenter": "onMouseEnter", "mouseleave": "onMouseLeave"}
_KEY_EVENTS = {"keydown": "onKeyDown", "keyup": "onKeyUp"}
_KEYS = {"escape": "Escape", "esc": "Escape", "enter": "Enter"}
_ARIA_BOOLEAN = frozenset(
    f"aria-{n}" for n in rp.names("expanded hidden selected pressed checked disabled busy modal current")
)


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


def convert(code: ReactCode, behaviour: Behaviour, tag: str, name: str, value: str, names: Names) -> None:
    """The directive `name="value"` of a `<tag>` into `behaviour`, its code into `code`."""
    what, arg, modifiers = kind(name)
    if what in {"x-data", "x-cloak"}:
        behaviour.consumed.add(name)
    elif what == "x-transition":
        return  # dropped by the attribute conversion, with its notice
    elif what == "x-show":
        ts, _, reads = grammar.expression(value, names)
        code.read(reads)
        behaviour.shown = ts
        behaviour.consumed.add(name)
    elif what == "x-if" and tag == "template":
        ts, _, reads = grammar.expression(value, names)
        code.read(reads)
        behaviour.condition = ts
        behaviour.consumed.add(name)
    elif what == "bind" and arg == "class":
        _class(code, behaviour, value, names)
        behaviour.consumed.add(name)
    elif what == "bind" and arg in _ARIA_BOOLEAN:
        ts, types, reads = grammar.expression(value, names)
        if types != {"boolean"}:
            raise Unsupported(f"{arg} needs a boolean")
        code.read(reads)
        behaviour.props.append((arg, "{" + ts + "}"))
        behaviour.consumed.add(name)
    elif what == "on":
        _event(code, behaviour, arg, modifiers, value, names)
        behaviour.consumed.add(name)
    else:
        raise Unsupported(f"{what if what != 'bind' else ':' + arg} is not converted")


def finish(code: ReactCode, behaviour: Behaviour) -> None:
    """The element's handlers as props, once all its directives are read: one arrow function per event,
    the method itself when a handler only calls one."""
    for prop, handlers in behaviour.handlers.items():
        uses_event = any(guard or before for guard, before, _ in handlers)
        if len(handlers) == 1 and not uses_event and len(handlers[0][2]) == 1:
            body = handlers[0][2][0]
            call = re.fullmatch(r"([\w$]+)\(\)", body)
            value = call.group(1) if call and call.group(1) in code.method_names() else f"() => {body}"
            behaviour.props.append((prop, "{" + value + "}"))
            continue
        lines = []
        for guard, before, statements_ in handlers:
            statements = " ".join(f"{line};" for line in [*before, *statements_])
            lines.append(f"if ({guard}) {{ {statements} }}" if guard else statements)
        behaviour.props.append(
            (prop, "{(" + ("event" if uses_event else "") + ") => { " + " ".join(lines) + " }}")
        )


def _class(code: ReactCode, behaviour: Behaviour, value: str, names: Names) -> None:
    toks = grammar.tokens(value)
    if not toks or toks[0] != ("op", "{"):
        ts, types, fields = grammar.expression(value, names)
        if types != {"string"}:
            raise Unsupported(":class is neither an object nor a string expression")
        code.read(fields)
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
    code.read(reads)
    behaviour.classes += entries


def _event(
    code: ReactCode, behaviour: Behaviour, event: str, modifiers: list[str], value: str, names: Names
) -> None:
    mods = set(modifiers)
    if event == "click" and mods & {"away", "outside"}:
        if mods - {"away", "outside"}:
            raise Unsupported(f"the modifiers {'.'.join(sorted(mods))} are not converted together")
        if any(prop == "ref" for prop, _ in behaviour.props):
            raise Unsupported("a second click-away handler on one element")
        plan = code.statements(value, names, alone=True)
        ref = code.identifier("awayRef")
        code.hooks.append(f"const {ref} = useClickAway({function(plan)});")
        behaviour.props.append(("ref", "{" + ref + "}"))
        code.commit(plan)
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
            plan = code.statements(value, names, alone=True)
            code.hooks.append(f"useWindowKey({literal(key)}, {function(plan)});")
            code.commit(plan)
            return
    elif event not in _EVENTS:
        raise Unsupported(f"the event {event} is not converted")
    if mods - {"prevent", "stop", "self"}:
        raise Unsupported(
            f"the modifiers {'.'.join(sorted(mods - {'prevent', 'stop', 'self'}))} are not converted"
        )
    plan = code.statements(value, names, alone=True)
    prop = _KEY_EVENTS.get(event) or _EVENTS[event]
    guard = f"event.key === {literal(key)}" if key else None
    before = []
    if "self" in mods:
        guard = " && ".join(filter(None, [guard, "event.target === event.currentTarget"]))
    if "prevent" in mods:
        before.append("event.preventDefault()")
    if "stop" in mods:
        before.append("event.stopPropagation()")
    behaviour.handlers.setdefault(prop, []).append((guard, before, plan.ts))
    code.commit(plan)


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
