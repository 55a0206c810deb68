"""Alpine.js in a preview: the state an element starts in. Alpine shows an `x-show` element only when its
expression is true (and hides `x-cloak` until then); React renders what the HTML says. The converted
element starts as Alpine starts it, its toggle left to the page agent with a notice."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from appgen.scaffold.jsobject import JsObjectError, parse_object_literal
from appgen.scaffold.jsx_props import Notify


def start_as_alpine_does(el: ET.Element, tag: str, scopes: list[dict[str, object]], notice: Notify) -> None:
    """`x-show` is read against the literal `x-data` `scopes` around the element (innermost last); the
    element is hidden when that cannot be read (menus, modals and overlays start closed)."""
    expression = el.get("x-show", "").strip()
    shown = _value(expression, scopes) if expression else None
    what = f"<{tag}{_describe(el)}> with x-show={expression!r}" if expression else f"<{tag}{_describe(el)}>"
    if shown:
        return
    style = el.get("style", "").strip().rstrip(";")
    el.set("style", f"{style}; display: none" if style else "display: none")
    notice(
        "static_behaviour",
        f"{what} starts hidden as in the preview; its Alpine.js toggle needs re-implementing in React",
    )


def scope_of(value: str | None) -> dict[str, object] | None:
    """A literal `x-data="{ open: false }"` as a dict; `{}` for `x-data="data()"` (unknown values)."""
    if value is None:
        return None
    try:
        data, _ = parse_object_literal(value.strip())
    except JsObjectError:
        return {}
    return data


def _value(expression: str, scopes: list[dict[str, object]]) -> bool | None:
    negate = expression.startswith("!")
    name = expression.lstrip("!").strip()
    if not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
        return None
    for data in reversed(scopes):
        if name in data and isinstance(data[name], bool):
            return data[name] != negate
    return None


def _describe(el: ET.Element) -> str:
    """` id="x"` or ` class="first classes"`: enough to find the element in the preview."""
    if el.get("id"):
        return f' id="{el.get("id")}"'
    classes = el.get("class", "").split()
    return f' class="{" ".join(classes[:4])}{" …" if len(classes) > 4 else ""}"' if classes else ""
