"""Text in JSX: which whitespace between elements renders (and is kept as `{" "}`) and which a browser
drops, the characters JSX or eslint reject (written as entities), and how long opening tags wrap."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from appgen.scaffold.jsx_props import js_string
from appgen.scaffold.react_props import names

SVG_NS = "http://www.w3.org/2000/svg"
# Elements around which whitespace never renders: dropped for readability.
BLOCK = names(
    "address article aside blockquote br caption dd details dialog div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr legend li main nav ol optgroup option p pre section "
    "summary table tbody td template tfoot th thead tr ul"
)
# Elements React refuses whitespace text inside (validateDOMNesting), plus non-text SVG containers.
_NO_TEXT = names("table thead tbody tfoot tr colgroup select optgroup datalist")
_SVG_TEXT = frozenset({"text", "tspan", "textPath", "title", "desc", "style"})
_FLEX_OR_GRID = frozenset({"flex", "inline-flex", "grid", "inline-grid"})
WS = re.compile(r"[ \t\n\r\f]+")
_TEXT_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "{": "&#123;",
    "}": "&#125;",
    '"': "&quot;",
    "'": "&apos;",
    "\xa0": "&nbsp;",
}
_TEXT_ESCAPE = re.compile("[&<>{}\"'\xa0]")
MAX_LINE = 100


def local_name(tag: str) -> tuple[str, bool]:
    """(local name, is SVG) of an html5lib etree tag."""
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return local, ns == SVG_NS
    return tag, False


def child_items(el: ET.Element) -> Iterator[str | ET.Element]:
    """Children as text and elements, comments dropped and the text around them merged."""
    text = el.text or ""
    for child in el:
        if isinstance(child.tag, str):
            if text:
                yield text
            text = ""
            yield child
        text += child.tail or ""
    if text:
        yield text


def is_boxed(el: ET.Element, parent: str) -> bool:
    """Whether `el` is a block, flex or grid box: spaces at its edges never render."""
    return parent in BLOCK or bool(_FLEX_OR_GRID.intersection(el.get("class", "").split()))


Neighbour = str | ET.Element | None


def text_lines(
    item: str,
    before: Neighbour,
    after: Neighbour,
    pad: str,
    *,
    in_pre: bool,
    parent: str,
    svg: bool,
    boxed: bool,
) -> list[str]:
    """The JSX lines of a text child between `before` and `after` (None at the edges of its `boxed` or
    inline parent): verbatim in a `<pre>`, else collapsed as a browser collapses it, its edge spaces kept
    only where they render."""
    if in_pre:
        return [f"{pad}{{{js_string(item)}}}"]
    text = WS.sub(" ", item)
    if not text.strip() and (parent in _NO_TEXT or (svg and parent not in _SVG_TEXT)):
        return []
    keep_lead = text.startswith(" ") and _space_matters(before, boxed)
    keep_trail = text.endswith(" ") and _space_matters(after, boxed)
    core = text.strip(" ")
    if not core:
        return [f'{pad}{{" "}}'] if keep_lead and keep_trail else []
    return [pad + ('{" "}' if keep_lead else "") + _jsx_text(core) + ('{" "}' if keep_trail else "")]


def opening_lines(tag: str, props: list[tuple[str, str | None]], pad: str) -> list[str]:
    """`<tag a={…} b="…"` on one line, or one prop per line when that is longer than `MAX_LINE`."""
    parts = [name if value is None else f"{name}={value}" for name, value in props]
    line = f"{pad}<{tag}" + "".join(" " + part for part in parts)
    if len(line) <= MAX_LINE or len(parts) < 2:
        return [line]
    return [f"{pad}<{tag}", *(f"{pad}  {part}" for part in parts[:-1]), f"{pad}  {parts[-1]}"]


def _space_matters(neighbour: Neighbour, boxed: bool) -> bool:
    """A space next to an inline neighbour renders; at the edge of a block, flex or grid box, or next to a
    block, it never does."""
    if neighbour is None:
        return not boxed
    if isinstance(neighbour, str):
        return True
    return local_name(neighbour.tag)[0] not in BLOCK


def _jsx_text(text: str) -> str:
    """Text for a JSX child: the characters JSX or react/no-unescaped-entities reject become entities."""
    return _TEXT_ESCAPE.sub(lambda m: _TEXT_ESCAPES[m.group()], text)
