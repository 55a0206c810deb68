"""Alpine.js outside a converted component: the state an element starts in. Alpine shows an `x-show`
element only when its expression is true (and hides `x-cloak` until then); React renders what the HTML
says. The element starts as Alpine starts it, its toggle left to the page agent with a notice."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from appgen.scaffold.alpine.directives import describe
from appgen.scaffold.alpine.scope import read_scope
from appgen.scaffold.jsx_props import Notify


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
    scope = read_scope(value, scripts)
    return {} if isinstance(scope, str) else {name: f.initial for name, f in scope.fields.items()}


def _value(expression: str, scopes: list[dict[str, object]]) -> bool | None:
    negate = expression.startswith("!")
    name = expression.lstrip("!").strip()
    if not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
        return None
    for data in reversed(scopes):
        if name in data and isinstance(data[name], bool):
            return data[name] != negate
    return None
