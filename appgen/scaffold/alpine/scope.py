"""An Alpine.js component of a preview, read without running it: its `x-data` object.

An Alpine component is an `x-data` object: literal fields (`{ open: false, tab: 'a' }`) and methods
(`toggle() { this.open = !this.open }`), written inline or returned by a function of the preview's
scripts (`x-data="data()"` with `function data() { return {…} }`, or `Alpine.data('data', () => ({…}))`).
The scripts are read, never run (`jsobject`). Fields with a literal value become React state (`Field`);
the others are known by name only, so an expression using them is `Unsupported`. `Names` looks names up
along the scopes around an element, as Alpine's nested components do. `grammar` reads the directives'
expressions and statements against them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from appgen.scaffold.jsobject import JsMethod, JsObjectError, parse_object_literal, returned_object

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
