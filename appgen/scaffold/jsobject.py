"""A tolerant reader for JavaScript object literals such as `tailwind.config = {…}` in preview scripts.

Previews configure the Tailwind CDN with a plain object literal. Executing it is out of the question (it
is user input), so this reads the literal subset of JavaScript: objects with quoted, unquoted or numeric
keys, arrays, strings (single, double, template without `${}`), numbers, booleans, null, comments and
trailing commas. Anything else — a function, a spread, `colors.blue`, `require(…)` — is skipped as one
balanced value and stands in the result as `UNSUPPORTED`, so one exotic entry costs that entry only.
Asked for (`methods=True`, Alpine.js components), methods (`toggle() {…}`, `toggle: function () {…}`)
come back as their source text instead, for a reader of their own (`alpine`); they are never run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class JsObjectError(ValueError):
    """The text is not an object literal this reader understands."""


class _Unsupported:
    def __repr__(self) -> str:
        return "UNSUPPORTED"


UNSUPPORTED: Any = _Unsupported()


@dataclass(frozen=True)
class JsMethod:
    """A method of an object literal, as source text: `params` between its parentheses, `body` between
    its braces."""

    params: str
    body: str


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\$]|\\.|\$(?!\{))*`)
  | (?P<num>-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<ident>[A-Za-z_$][\w$]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[{}\[\]():,.=;?+*/<>!&|%-])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSERS = {"{": "}", "[": "]", "(": ")"}
_KEYWORDS = {"true": True, "false": False, "null": None}


def parse_object_literal(text: str, start: int = 0, *, methods: bool = False) -> tuple[dict[str, Any], int]:
    """Parse the object literal whose `{` is at or after `start`; returns it and the index past its `}`.
    `methods`: methods become `JsMethod`s (else `UNSUPPORTED`)."""
    tokens = _tokenize(text, start)
    parser = _Parser(tokens, text if methods else None)
    if parser.peek() != ("punct", "{"):
        raise JsObjectError("expected an object literal starting with '{'")
    value = parser.value()
    if not isinstance(value, dict):
        raise JsObjectError("the object literal could not be read")
    return value, parser.end_offset()


def returned_object(text: str, body: int) -> int | None:
    """Where the object literal starts that a function returns at the top level of its body (`body`: the
    index of the body's `{`): `function data() { function helper() {…} return { … } }` → the `{` after
    `return`. None when the body returns no object literal there."""
    depth = 0
    tokens = _tokenize(text, body)
    for index, (kind, tok, _) in enumerate(tokens):
        if kind == "punct" and tok in "{[(":
            depth += 1
        elif kind == "punct" and tok in "}])":
            depth -= 1
        elif depth == 1 and (kind, tok) == ("ident", "return") and index + 1 < len(tokens):
            nxt_kind, nxt, nxt_end = tokens[index + 1]
            if (nxt_kind, nxt) == ("punct", "{"):
                return nxt_end - 1
    return None


def _tokenize(text: str, start: int) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    depth = 0
    for match in _TOKEN.finditer(text, start):
        kind = match.lastgroup or "other"
        if kind == "ws":
            continue
        tok = match.group()
        tokens.append((kind, tok, match.end()))
        if kind == "punct" and tok in "{[(":
            depth += 1
        elif kind == "punct" and tok in "}])":
            depth -= 1
            if depth == 0:
                break  # the literal (or whatever it was) is closed: the rest of the script is not ours
    return tokens


def _decode_string(token: str) -> str:
    body = token[1:-1]
    if token[0] == "`":
        body = body.replace('"', '\\"')
    elif token[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        return str(json.loads(f'"{body}"'))
    except json.JSONDecodeError:
        return body  # an escape JSON lacks (\x41, \u{…}): the raw text is the best guess


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], source: str | None = None) -> None:
        self.tokens = tokens
        self.pos = 0
        self.source = source  # set when methods are read as JsMethod

    def peek(self) -> tuple[str, str] | None:
        if self.pos >= len(self.tokens):
            return None
        kind, tok, _ = self.tokens[self.pos]
        return kind, tok

    def end_offset(self) -> int:
        return self.tokens[self.pos - 1][2] if self.pos else 0

    def _next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise JsObjectError("the object literal ends early")
        self.pos += 1
        return tok

    def _at(self, punct: str) -> bool:
        return self.peek() == ("punct", punct)

    def value(self) -> Any:
        start = self.pos
        tok = self._next()
        kind, text = tok
        if tok == ("punct", "{"):
            result: Any = self._object()
        elif tok == ("punct", "["):
            result = self._array()
        elif kind == "str":
            result = _decode_string(text)
        elif kind == "num":
            result = float(int(text, 16)) if text.lower().startswith(("0x", "-0x")) else float(text)
            if result.is_integer() and "." not in text:
                result = int(result)
        elif kind == "ident" and text in _KEYWORDS:
            result = _KEYWORDS[text]
        elif tok == ("ident", "function") and self.source is not None and self._at("("):
            return self._method()
        else:
            result = UNSUPPORTED
        if result is not UNSUPPORTED and self._ends_value():
            return result
        self.pos = start
        self._skip_value()
        return UNSUPPORTED

    def _ends_value(self) -> bool:
        nxt = self.peek()
        return nxt is None or nxt in {("punct", ","), ("punct", "}"), ("punct", "]"), ("punct", ";")}

    def _skip_value(self) -> None:
        """Skip one expression: balanced brackets up to the `,` or closer of the enclosing literal."""
        depth = 0
        while (tok := self.peek()) is not None:
            kind, text = tok
            if kind == "punct" and text in _CLOSERS:
                depth += 1
            elif kind == "punct" and text in "}])":
                if depth == 0:
                    return
                depth -= 1
            elif depth == 0 and tok == ("punct", ","):
                return
            self.pos += 1

    def _object(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while not self._at("}"):
            kind, text = self._next()
            if kind == "spread":
                self._skip_value()
            elif kind in {"ident", "num"} or kind == "str":
                key = _decode_string(text) if kind == "str" else text
                if self._at(":"):
                    self.pos += 1
                    result[key] = self.value()
                elif self._at("("):  # a method: `foo() {…}`
                    result[key] = self._method()
                else:  # shorthand `{ colors }` refers to a variable we cannot see
                    result[key] = UNSUPPORTED
            elif (kind, text) == ("punct", "["):  # computed key
                self.pos -= 1
                self._skip_value()
            else:
                raise JsObjectError(f"unexpected {text!r} in an object literal")
            if self._at(","):
                self.pos += 1
            elif not self._at("}"):
                raise JsObjectError(f"expected ',' or '}}' in an object literal, got {self._next()[1]!r}")
        self.pos += 1
        return result

    def _method(self) -> Any:
        """`(params) {body}` from the `(`: a JsMethod when the source is kept, else skipped."""
        start = self.pos
        self._skip_value()
        if self.source is None:
            return UNSUPPORTED
        depth, close = 0, start
        for close in range(start, self.pos):
            tok = self.tokens[close][1]
            depth += 1 if tok in "([{" and self.tokens[close][0] == "punct" else 0
            depth -= 1 if tok in ")]}" and self.tokens[close][0] == "punct" else 0
            if depth == 0:
                break
        body_open, body_close = close + 1, self.pos - 1
        if body_open >= body_close or self.tokens[body_open][1] != "{" or self.tokens[body_close][1] != "}":
            return UNSUPPORTED
        return JsMethod(
            self.source[self._start(start) + 1 : self._start(close)].strip(),
            self.source[self._start(body_open) + 1 : self._start(body_close)].strip(),
        )

    def _start(self, index: int) -> int:
        _, tok, end = self.tokens[index]
        return end - len(tok)

    def _array(self) -> list[Any]:
        result: list[Any] = []
        while not self._at("]"):
            if self.peek() is not None and self.peek() == ("spread", "..."):
                self.pos += 1
                self._skip_value()
            else:
                result.append(self.value())
            if self._at(","):
                self.pos += 1
            elif not self._at("]"):
                raise JsObjectError("expected ',' or ']' in an array literal")
        self.pos += 1
        return result
