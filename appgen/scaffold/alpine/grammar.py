"""The small part of Alpine.js's expression language that converts to TypeScript for React state.

- expressions: a field, a string, number, boolean or null literal, `!`, `===`/`!==`/`==`/`!=`, `&&`,
  `||`, `a ? b : c` and parentheses (`x-show="tab === 'a'"`, `:class="{ 'hidden': !open }"`);
- statements: `field = expression` and calls of the component's own methods without arguments
  (`open = !open`, `tab = 'b'`, `toggle()`, or `toggle` as Alpine's shorthand), separated by `;` or
  new lines; in methods, fields are `this.field`.

Anything else (`$refs`, `$dispatch`, calls with arguments, `++`, globals…) is `Unsupported`, with the
reason the job's warning quotes (`react_code` decides whether a statement outside the grammar can be
dropped instead). Field types (boolean, string, number, null) come from the initial value and the
literals assigned (`infer_types`), so the `useState` declarations and comparisons type-check: a
comparison of values that are never equal is refused, as TypeScript would refuse it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from appgen.scaffold.alpine.scope import Field, Names, Scope, Unsupported, literal

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    | (?P<num>\d+(?:\.\d+)?(?![\w$]))
    | (?P<name>(?:this\s*\.\s*)?[A-Za-z_$][\w$]*)
    | (?P<op>===|!==|==|!=|&&|\|\||[!()?:=;{},])
    )""",
    re.VERBOSE,
)
# Where a line continues the statement of the line before it (JavaScript inserts no semicolon there).
_CONTINUES = re.compile(r"^\s*(?:[-+*/%&|?:.,(\[=<>]|!==?|instanceof\b|in\b)|[-+*/%&|?:.,(\[=<>!]\s*$")
_ASSIGNS = re.compile(r"(?:this\s*\.\s*)?([A-Za-z_$][\w$]*)\s*(?:[-+*/%&|^]?=(?![=>])|\+\+|--)")
_IDENT = re.compile(r"(?:this\s*\.\s*)?([A-Za-z_$][\w$]*)")


@dataclass(frozen=True)
class Assign:
    field: Field
    ts: str  # the value's TypeScript
    reads: tuple[Field, ...]


@dataclass(frozen=True)
class Call:
    scope: Scope
    method: str


Statement = Assign | Call


def tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise Unsupported(f"`{text[pos : pos + 20].strip()}` is outside the converted grammar")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class Expression:
    """A recursive-descent reader of one expression → (TypeScript, its types; None = any)."""

    def __init__(self, toks: list[tuple[str, str]], names: Names) -> None:
        self.toks = toks
        self.pos = 0
        self.names = names
        self.fields_read: list[Field] = []

    def parse(self) -> tuple[str, set[str] | None]:
        result = self._ternary()
        if self.pos != len(self.toks):
            raise Unsupported(f"`{self.toks[self.pos][1]}` is outside the converted grammar")
        return result

    def _peek(self) -> str | None:
        return self.toks[self.pos][1] if self.pos < len(self.toks) else None

    def _take(self, op: str) -> bool:
        if self._peek() == op and self.toks[self.pos][0] == "op":
            self.pos += 1
            return True
        return False

    def _ternary(self) -> tuple[str, set[str] | None]:
        test, _ = self._binary(0)
        if not self._take("?"):
            return test, _
        yes, yes_types = self._ternary()
        if not self._take(":"):
            raise Unsupported("`?` without `:`")
        no, no_types = self._ternary()
        types = None if yes_types is None or no_types is None else yes_types | no_types
        return f"{test} ? {yes} : {no}", types

    _LEVELS = (("||",), ("&&",))

    def _binary(self, level: int) -> tuple[str, set[str] | None]:
        if level == len(self._LEVELS):
            return self._comparison()
        left, types = self._binary(level + 1)
        while self._peek() in self._LEVELS[level]:
            op = self.toks[self.pos][1]
            self.pos += 1
            right, right_types = self._binary(level + 1)
            left = f"{left} {op} {right}"
            types = {"boolean"} if types == right_types == {"boolean"} else None
        return left, types

    def _comparison(self) -> tuple[str, set[str] | None]:
        left, types = self._unary()
        op = self._peek()
        if op not in {"===", "!==", "==", "!="}:
            return left, types
        self.pos += 1
        right, right_types = self._unary()
        if types is not None and right_types is not None and not types & right_types:
            raise Unsupported(f"`{left} {op} {right}` compares values that are never equal")
        return f"{left} {'===' if op in {'===', '=='} else '!=='} {right}", {"boolean"}

    def _unary(self) -> tuple[str, set[str] | None]:
        if self._take("!"):
            inner, _ = self._unary()
            return f"!{inner}", {"boolean"}
        return self._atom()

    def _atom(self) -> tuple[str, set[str] | None]:
        if self.pos >= len(self.toks):
            raise Unsupported("an expression ends early")
        kind, tok = self.toks[self.pos]
        self.pos += 1
        if (kind, tok) == ("op", "("):
            inner, types = self._ternary()
            if not self._take(")"):
                raise Unsupported("unbalanced parentheses")
            return f"({inner})", types
        if kind == "str":
            value = _decode(tok)
            return literal(value), {"string"}
        if kind == "num":
            return tok, {"number"}
        if kind == "name" and tok in {"true", "false"}:
            return tok, {"boolean"}
        if kind == "name" and tok == "null":
            return "null", {"null"}
        if kind == "name":
            found = self.names.field(tok)
            self.fields_read.append(found)
            return found.ts, set(found.types)
        raise Unsupported(f"`{tok}` is outside the converted grammar")


def _decode(token: str) -> str:
    body = token[1:-1]
    if token[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        return str(json.loads(f'"{body}"'))
    except json.JSONDecodeError as exc:
        raise Unsupported(f"the string {token} has an escape JavaScript reads differently") from exc


def expression(text: str, names: Names) -> tuple[str, set[str] | None, list[Field]]:
    """A read expression → (TypeScript, types or None for any, the fields it reads)."""
    reader = Expression(tokens(text), names)
    ts, types = reader.parse()
    return ts, types, reader.fields_read


# -- statements -------------------------------------------------------------------------------------------
def split_statements(text: str) -> list[str]:
    """Statements separated by `;` or by new lines where JavaScript would insert a semicolon."""
    lines: list[str] = []
    for part in _split_top(text, ";"):
        for line in _split_top(part, "\n"):
            if lines and (_CONTINUES.search(line) or _CONTINUES.search(lines[-1])):
                lines[-1] += "\n" + line
            else:
                lines.append(line)
    return [line.strip() for line in lines if line.strip()]


def _split_top(text: str, sep: str) -> Iterator[str]:
    depth, quote, start = 0, "", 0
    for index, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[index - 1] != "\\" else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            yield text[start:index]
            start = index + 1
    yield text[start:]


def statement(text: str, names: Names, *, alone: bool) -> Statement:
    """One statement in the grammar → Assign or Call. `alone`: the whole handler (where Alpine calls a
    bare method name)."""
    toks = tokens(text)
    if len(toks) >= 2 and toks[0][0] == "name" and toks[1] == ("op", "="):
        target = names.field(toks[0][1])
        reader = Expression(toks[2:], names)
        ts, types = reader.parse()
        if types is None or not types <= target.types:
            kinds = "unknown" if types is None else " | ".join(sorted(types))
            raise Unsupported(
                f"assigns a {kinds} value to `{target.name}` ({' | '.join(sorted(target.types))})"
            )
        return Assign(target, ts, tuple(reader.fields_read))
    if (
        toks
        and toks[0][0] == "name"
        and (toks[1:] == [("op", "("), ("op", ")")] or (alone and len(toks) == 1))
    ):
        found = names.method(toks[0][1])
        if found is None:
            raise Unsupported(f"`{toks[0][1]}` is not a method of the component")
        return Call(*found)
    raise Unsupported(f"`{text[:60]}` is outside the converted grammar")


def assigned_names(text: str) -> set[str]:
    """The names a statement outside the grammar may assign (`x = …`, `this.x += …`, `x++`)."""
    return {match.group(1) for match in _ASSIGNS.finditer(_strip_strings(text))}


def identifiers(text: str) -> set[str]:
    return {match.group(1) for match in _IDENT.finditer(_strip_strings(text))}


def _strip_strings(text: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`\\]|\\.)*`", "''", text)


def infer_types(chain: list[Scope], texts: list[str], *, this: bool) -> None:
    """Widen field types by the literal types assigned to them (`selected = 1` on `selected: null`)."""
    for text in texts:
        for part in split_statements(text):
            try:
                toks = tokens(part)
            except Unsupported:
                continue
            if len(toks) < 3 or toks[0][0] != "name" or toks[1] != ("op", "="):
                continue
            try:
                target = Names(chain, this=this).field(toks[0][1])
                _, types = Expression(toks[2:], Names(chain, this=this)).parse()
            except Unsupported:
                continue
            if types is not None:
                target.types |= types
