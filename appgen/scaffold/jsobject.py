"""A tolerant reader for JavaScript object literals such as `tailwind.config = {…}` in preview scripts.

Previews configure the Tailwind CDN with a plain object literal. Executing it is out of the question (it
is user input), so this reads the literal subset of JavaScript: objects with quoted, unquoted or numeric
keys, arrays, strings (single, double, template without `${}`), numbers, booleans, null, comments and
trailing commas. Anything else — a function, a spread, `colors.blue`, `require(…)` — is skipped as one
balanced value and stands in the result as `UNSUPPORTED`, so one exotic entry costs that entry only.
"""

from __future__ import annotations

import json
import re
from typing import Any


class JsObjectError(ValueError):
    """The text is not an object literal this reader understands."""


class _Unsupported:
    def __repr__(self) -> str:
        return "UNSUPPORTED"


UNSUPPORTED: Any = _Unsupported()

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


def parse_object_literal(text: str, start: int = 0) -> tuple[dict[str, Any], int]:
    """Parse the object literal whose `{` is at or after `start`; returns it and the index past its `}`."""
    tokens = _tokenize(text, start)
    parser = _Parser(tokens)
    if parser.peek() != ("punct", "{"):
        raise JsObjectError("expected an object literal starting with '{'")
    value = parser.value()
    if not isinstance(value, dict):
        raise JsObjectError("the object literal could not be read")
    return value, parser.end_offset()


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
    def __init__(self, tokens: list[tuple[str, str, int]]) -> None:
        self.tokens = tokens
        self.pos = 0

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
                    self._skip_value()
                    result[key] = UNSUPPORTED
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
