"""The React code of a converted Alpine.js component (`island`): its state, methods and handlers.

Fields become `useState` (only those the converted code reads or writes, so nothing is left unused),
methods `const`s (only those a converted handler calls, callees before callers), statements setter calls.
React state updates after the handler, unlike Alpine's: a handler that reads a field it just set is
refused. A statement outside the grammar that cannot change what the page shows — it assigns no name a
directive or converted statement reads and calls none of the component's methods, like windmill's
`this.trapCleanup = focusTrap(…)` — is dropped with a notice instead of failing its handler or method.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appgen.scaffold import react_props as rp
from appgen.scaffold.alpine import grammar
from appgen.scaffold.alpine.scope import Field, Names, Scope, Unsupported

# Names a state variable, setter or method must not take in the component's module.
_RESERVED = rp.names(
    "useState useClickAway useWindowKey Link CSSProperties event undefined null true false this new delete "
    "var let const function return class default export import if else switch case for while do in of "
    "typeof void with yield await try catch finally throw break continue debugger enum extends super "
    "implements interface package private protected public static"
)


@dataclass
class Method:
    name: str  # as the preview names it
    ts: str
    plan: Statements
    used: bool = False


@dataclass
class Statements:
    ts: list[str]
    writes: set[Field]
    reads: set[Field]
    methods: list[Method]
    dropped: list[str]


class ReactCode:
    def __init__(self, label: str) -> None:
        self.label = label  # how notices name the component
        self.fields: list[Field] = []
        self.methods: dict[tuple[int, str], Method | Unsupported] = {}
        self.order: list[Method] = []  # callees before callers
        self.hooks: list[str] = []  # `const awayRef = useClickAway(close);`, `useWindowKey(…);`
        self.problems: list[str] = []
        self.changes_state = False
        self.read_names: set[str] = set()  # see `island.Island._reads`
        self._busy: set[tuple[int, str]] = set()
        self._names: set[str] = set(_RESERVED)

    def add_scope(self, scope: Scope) -> None:
        for item in scope.fields.values():
            item.ts = self.identifier(item.name)
            item.setter = self.identifier("set" + item.name[:1].upper() + item.name[1:])
            self.fields.append(item)

    def statements(self, text: str, names: Names, *, alone: bool) -> Statements:
        parts = grammar.split_statements(text)
        out = Statements([], set(), set(), [], [])
        reasons: list[Unsupported] = []
        for part in parts:
            try:
                found = grammar.statement(part, names, alone=alone and len(parts) == 1)
            except Unsupported as exc:
                if self._droppable(part, names):
                    out.dropped.append(part)
                    reasons.append(exc)
                    continue
                raise
            if isinstance(found, grammar.Call):
                method = self._method(found.scope, found.method)
                reads, writes = method.plan.reads, method.plan.writes
                out.ts.append(f"{method.ts}()")
                out.methods.append(method)
            else:
                reads, writes = set(found.reads), {found.field}
                out.ts.append(f"{found.field.setter}({found.ts})")
            late = reads & out.writes
            if late:
                raise Unsupported(
                    f"reads `{next(iter(late)).name}` after setting it (React state updates later)"
                )
            out.reads |= reads
            out.writes |= writes
        if not out.writes:
            raise reasons[0] if reasons else Unsupported("nothing in it changes the component's state")
        return out

    def _droppable(self, part: str, names: Names) -> bool:
        methods = {m for scope in names.chain for m in scope.methods}
        return not (grammar.assigned_names(part) & self.read_names) and not (
            grammar.identifiers(part) & methods
        )

    def _method(self, scope: Scope, name: str) -> Method:
        key = (id(scope), name)
        known = self.methods.get(key)
        if isinstance(known, Unsupported):
            raise known
        if known is not None:
            return known
        if key in self._busy:
            raise Unsupported(f"{name}() calls itself")
        self._busy.add(key)
        try:
            source = scope.methods[name]
            if source.params:
                raise Unsupported(f"{name}() takes arguments")
            plan = self.statements(source.body, Names([scope], this=True), alone=False)
        except Unsupported as exc:
            failed = Unsupported(f"{name}(): {exc}")
            self.methods[key] = failed
            raise failed from None
        finally:
            self._busy.discard(key)
        method = Method(name, self.identifier(name), plan)
        self.methods[key] = method
        self.order.append(method)
        return method

    def commit(self, plan: Statements) -> None:
        self.read(plan.reads)
        for item in plan.writes:
            item.written = True
        self.changes_state = True
        pending = list(plan.methods)
        while pending:
            method = pending.pop()
            if not method.used:
                method.used = True
                pending += method.plan.methods
                for dropped in method.plan.dropped:
                    self.problems.append(_without(f"{self.label}: {method.name}()", dropped))
        for dropped in plan.dropped:
            self.problems.append(_without(f"{self.label}: a handler", dropped))

    @staticmethod
    def read(fields: set[Field] | list[Field]) -> None:
        for item in fields:
            item.read = True

    def method_names(self) -> set[str]:
        return {m.ts for m in self.order}

    def identifier(self, wanted: str) -> str:
        name, n = wanted, 1
        while name in self._names:
            n += 1
            name = f"{wanted}{n}"
        self._names.add(name)
        return name

    # -- output --------------------------------------------------------------------------------------------
    def declarations(self) -> list[str]:
        """The component's body before `return`: state, methods, hooks."""
        out = [f"  {f.declaration()}" for f in self.fields if f.read or f.written]
        for method in self.order:
            if method.used:
                body = (
                    method.plan.ts[0]
                    if len(method.plan.ts) == 1
                    else "{ " + " ".join(f"{s};" for s in method.plan.ts) + " }"
                )
                out.append(f"  const {method.ts} = () => {body};")
        out += [f"  {hook}" for hook in self.hooks]
        return out

    def hook_names(self) -> list[str]:
        return [name for name in ("useClickAway", "useWindowKey") if any(name + "(" in h for h in self.hooks)]


def function(plan: Statements) -> str:
    if len(plan.ts) == 1 and re.fullmatch(r"[\w$]+\(\)", plan.ts[0]) and plan.methods:
        return plan.ts[0][:-2]
    if len(plan.ts) == 1:
        return f"() => {plan.ts[0]}"
    return "() => { " + " ".join(f"{s};" for s in plan.ts) + " }"


def _without(where: str, statement: str) -> str:
    short = " ".join(statement.split())
    short = short if len(short) <= 70 else short[:69] + "…"
    return (
        f"{where} converted without `{short}` (outside the converted grammar; no state the page shows "
        "depends on it: re-implement it if it matters)"
    )
