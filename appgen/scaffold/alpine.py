"""An Alpine.js component of a preview, read without running it: its `x-data` object.

An Alpine component is an `x-data` object: literal fields (`{ open: false, tab: 'a' }`) and methods
(`toggle() { this.open = !this.open }`), written inline or returned by a function of the preview's
scripts (`x-data="data()"` with `function data() { return {…} }`, or `Alpine.data('data', () => ({…}))`).
The scripts are read, never run (`jsobject`). Fields with a literal value become React state (`Field`);
the others are known by name only, so an expression using them is `Unsupported`. `Names` looks names up
along the scopes around an element, as Alpine's nested components do. `alpine_grammar` reads the
directives' expressions and statements against them.

An element outside a converted component (`alpine_island`) keeps the state it starts in: Alpine shows an
`x-show` element only when its expression is true (and hides `x-cloak` until then); React renders what
the HTML says. `start_as_alpine_does` starts the element as Alpine starts it, its toggle left to the page
agent with a notice.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from appgen.scaffold.jsobject import JsMethod, JsObjectError, parse_object_literal, returned_object
from appgen.scaffold.jsx_props import Notify

LITERAL_TYPES = {bool: "boolean", str: "string", int: "number", float: "number", type(None): "null"}


class Unsupported(ValueError):
    """Outside the grammar this module converts; the message says why."""


@dataclass(eq=False)
class Field:
    name: str  # as Alpine names it
    ts: str  # the TypeScript state variable
    setter: str
    initial: Any
    types: set[str]
    read: bool = False
    written: bool = False

    def declaration(self) -> str:
        pair = f"{self.ts if self.read else ''}, {self.setter}" if self.written else self.ts
        kinds = sorted(self.types)
        generic = f"<{' | '.join(kinds)}>" if len(kinds) > 1 else ""
        return f"const [{pair}] = useState{generic}({literal(self.initial)});"


@dataclass(eq=False)
class Scope:
    """One `x-data` object: its fields with literal values and its methods. `opaque`: an `x-data` that
    could not be read; it hides the names of the scopes around it, as Alpine's would."""

    fields: dict[str, Field] = field(default_factory=dict)
    methods: dict[str, JsMethod] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)  # fields whose values are not literals
    opaque: bool = False


def read_scope(value: str, scripts: list[str]) -> Scope | str:
    """An `x-data` value → its Scope, or why it cannot be read."""
    text = value.strip() or "{}"
    if text.startswith("{"):
        source, start = text, 0
    else:
        match = re.fullmatch(r"([A-Za-z_$][\w$]*)\s*(?:\(\s*\))?", text)
        if not match:
            return f"x-data={text[:60]!r} is not an object literal or a call of a function without arguments"
        found = _function_object(match.group(1), scripts)
        if found is None:
            return (
                f"x-data={text[:60]!r}: no `function {match.group(1)}() {{ return {{…}} }}` or "
                f"`Alpine.data('{match.group(1)}', …)` returning an object literal in the page's scripts"
            )
        source, start = found
    try:
        data, _ = parse_object_literal(source, start, methods=True)
    except JsObjectError as exc:
        return f"x-data={text[:60]!r} could not be read ({exc})"
    scope = Scope()
    for name, item in data.items():
        if isinstance(item, JsMethod):
            scope.methods[name] = item
        elif type(item) in LITERAL_TYPES and not (isinstance(item, float) and not math.isfinite(item)):
            scope.fields[name] = Field(name, name, "", item, {LITERAL_TYPES[type(item)]})
        else:
            scope.unknown.add(name)
    return scope


def literal_values(scope: Scope | str) -> dict[str, Any]:
    """The fields' initial values (for the static rendering of an x-data that is not converted)."""
    return {} if isinstance(scope, str) else {name: f.initial for name, f in scope.fields.items()}


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _function_object(name: str, scripts: list[str]) -> tuple[str, int] | None:
    """(script, offset of the object literal) that `function name() { … return {…} }` or
    `Alpine.data('name', () => ({…}))` returns."""
    declared = re.compile(rf"function\s+{re.escape(name)}\s*\(\s*\)\s*\{{")
    registered = re.compile(
        rf"Alpine\.data\(\s*(['\"]){re.escape(name)}\1\s*,\s*"
        r"(?:\(\s*\)\s*=>\s*\(\s*(?=\{)|function\s*\(\s*\)\s*\{\s*return\s*(?=\{))"
    )
    for script in scripts:
        match = declared.search(script)
        if match:
            start = returned_object(script, match.end() - 1)
            if start is not None:
                return script, start
        match = registered.search(script)
        if match:
            return script, match.end()
    return None


class Names:
    """Name lookup along the scopes around an element (innermost first), recording what is read."""

    def __init__(self, chain: list[Scope], *, this: bool = False) -> None:
        self.chain = chain
        self.this = this  # in a method body: only `this.x` names the component's fields

    def field(self, token: str) -> Field:
        name = self._name(token)
        for scope in reversed(self.chain):
            if name in scope.fields:
                return scope.fields[name]
            if name in scope.unknown:
                raise Unsupported(f"`{name}` has no literal initial value")
            if name in scope.methods:
                raise Unsupported(f"`{name}` is a method, used as a value")
            if scope.opaque:
                break
        raise Unsupported(f"`{name}` is not a field of the component")

    def method(self, token: str) -> tuple[Scope, str] | None:
        name = self._name(token)
        for scope in reversed(self.chain):
            if name in scope.methods:
                return scope, name
            if name in scope.fields or name in scope.unknown or scope.opaque:
                return None
        return None

    def _name(self, token: str) -> str:
        if token.startswith("this"):
            if not self.this:
                raise Unsupported("`this` outside a method")
            return re.sub(r"^this\s*\.\s*", "", token)
        if self.this:
            raise Unsupported(f"`{token}` is not `this.{token}`: a global")
        return token


def start_as_alpine_does(el: ET.Element, tag: str, scopes: list[dict[str, object]], notice: Notify) -> None:
    """`x-show` is read against the literal `x-data` `scopes` around the element (innermost last); the
    element is hidden when that cannot be read (menus, modals and overlays start closed)."""
    expression = el.get("x-show", "").strip()
    shown = _value(expression, scopes) if expression else None
    what = f"<{tag}{describe(el)}> with x-show={expression!r}" if expression else f"<{tag}{describe(el)}>"
    if shown:
        return
    style = el.get("style", "").strip().rstrip(";")
    el.set("style", f"{style}; display: none" if style else "display: none")
    notice(
        "static_behaviour",
        f"{what} starts hidden as in the preview; its Alpine.js toggle needs re-implementing in React",
    )


def scope_of(value: str, scripts: list[str]) -> dict[str, object]:
    """The literal fields of an `x-data` that is not converted (`{}` when it cannot be read)."""
    return literal_values(read_scope(value, scripts))


def _value(expression: str, scopes: list[dict[str, object]]) -> bool | None:
    negate = expression.startswith("!")
    name = expression.lstrip("!").strip()
    if not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
        return None
    for data in reversed(scopes):
        if name in data and isinstance(data[name], bool):
            return data[name] != negate
    return None


def describe(el: ET.Element) -> str:
    """` id="x"` or ` class="first classes"`: enough to find the element in the preview."""
    if el.get("id"):
        return f' id="{el.get("id")}"'
    classes = el.get("class", "").split()
    return f' class="{" ".join(classes[:4])}{" …" if len(classes) > 4 else ""}"' if classes else ""
