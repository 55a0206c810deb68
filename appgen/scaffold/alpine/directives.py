"""Alpine.js attributes as written: which attributes are directives (`x-…`, `@…`, `:…`), what a
directive's name says (`@click.away` is the event `click` with the modifier `away`), and how a notice
names the element that carries them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_DIRECTIVE = re.compile(
    r"(?:x-on:|@)([a-z-]+)((?:\.[\w-]+)*)$|(?:x-bind:|:)([\w-]+)$|(x-[a-z-]+)(?::[\w:-]+)?((?:\.[\w-]+)*)$"
)


def is_directive(name: str) -> bool:
    return name.startswith(("x-", "@", ":"))


def kind(name: str) -> tuple[str, str, list[str]]:
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


def describe(el: ET.Element) -> str:
    """` id="x"` or ` class="first classes"`: enough to find the element in the preview."""
    if el.get("id"):
        return f' id="{el.get("id")}"'
    classes = el.get("class", "").split()
    return f' class="{" ".join(classes[:4])}{" …" if len(classes) > 4 else ""}"' if classes else ""


def what(el: ET.Element) -> str:
    """`<div id="x">`: the element as a notice names it."""
    return f"<{el.tag.rpartition('}')[2]}{describe(el)}>"
