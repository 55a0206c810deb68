"""HTML attributes → React props, as `next build` type-checks them (see `react_props` for the tables).

Renames (`class` → `className`), SVG camelCase (`stroke-width` → `strokeWidth`), `style` strings → object
literals, numbers for numeric props, bare booleans, uncontrolled form values (`defaultValue`,
`defaultChecked`, a `<select>`'s selected options) and the attributes that cannot be carried over
(event handlers, form targets, undeclared props, values outside a prop's union), reported to `notice`.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from appgen.scaffold import react_props as rp

Notify = Callable[[str, str], None]
# Declarations with `!important`, as CSS text → a class name whose rule carries them (see `_style_object`).
ImportantRule = Callable[[str], str]
# Attributes that navigate or submit: a `javascript:` URL in them is refused by React 19, which renders a
# function that throws instead, so they are dropped (the page agent re-implements the behaviour).
_URL_PROPS = frozenset({"href", "xlinkHref", "src", "action", "formAction"})
_JS_URL = re.compile(r"^[\x00-\x20]*" + r"[\t\n\r]*".join("javascript") + ":", re.I)
_NS_PREFIX = {
    "http://www.w3.org/1999/xlink": "xlink",
    "http://www.w3.org/XML/1998/namespace": "xml",
    "http://www.w3.org/2000/xmlns/": "xmlns",
}
_VALUE_IS_LABEL = frozenset({"submit", "button", "reset", "hidden", "image", "checkbox", "radio"})
_JSX_NAME = re.compile(r"^[A-Za-z_][\w-]*$")
_WS = re.compile(r"[ \t\n\r\f]+")


def convert_attributes(
    el: ET.Element, tag: str, svg: bool, notice: Notify, important: ImportantRule | None = None
) -> list[tuple[str, str | None]]:
    """(React prop, rendered value or None for a bare boolean) for each attribute carried over.

    `important` turns `!important` declarations of a `style` attribute into a class (React's style
    objects cannot carry the priority); without it they are dropped with a notice."""
    out: dict[str, str | None] = {}
    input_type = el.get("type", "text").lower()
    # An SVG <a> is typed as React's HTML anchor: its xlink:href becomes href, its other props HTML's.
    svg_link = svg and tag == "a"
    important_class = None
    for raw, value in el.attrib.items():
        name = _react_name(raw, svg and not svg_link)
        if svg_link and raw in {"{http://www.w3.org/1999/xlink}href", "class"}:
            name = "href" if raw != "class" else "className"
        if name in _URL_PROPS and _JS_URL.match(value):
            notice(
                "dropped_attribute",
                f"dropped {raw}={value[:60]!r} on <{tag}>: React refuses javascript: URLs",
            )
            continue
        if name is None or not _JSX_NAME.match(name):
            notice("dropped_attribute", f"dropped the attribute {raw!r} on <{tag}>: not valid in JSX")
            continue
        if re.fullmatch(r"on[a-z]+", raw):
            notice("dropped_event_handler", f"dropped {raw}={value[:60]!r} on <{tag}>")
            continue
        if name == "style":
            plain, forced = _style_object(value)
            if plain != "{}":
                out["style"] = "{" + plain + " as CSSProperties}"
            if forced and important is not None:
                important_class = important(forced)
            elif forced:
                notice("dropped_attribute", f"dropped !important from style={value[:60]!r} on <{tag}>")
            continue
        if tag == "form" and name in {"action", "method"}:
            if name == "action" and value.strip() not in {"", "#"}:
                notice(
                    "dropped_form_action",
                    f"dropped action={value!r} on a <form>: the form stays on the page until the page "
                    "agent connects it to the app's API",
                )
            continue
        if tag == "option" and name == "selected":
            continue  # carried by the <select>'s defaultValue
        if tag == "input" and name == "value" and input_type not in _VALUE_IS_LABEL:
            name = "defaultValue"
        elif tag == "input" and name == "checked":
            name = "defaultChecked"
        elif not _declared(name, tag, svg and not svg_link):
            notice("dropped_attribute", f"dropped {raw}={value[:60]!r}: <{tag}> has no such property")
            continue
        try:
            rendered = _value(name, value, tag)
        except ValueError:
            notice("dropped_attribute", f"dropped {raw}={value[:60]!r} on <{tag}>: invalid value")
            continue
        out.setdefault(name, rendered)
        if name == "contentEditable":
            out["suppressContentEditableWarning"] = None
    if important_class:
        classes = _WS.sub(" ", el.get("class", "")).strip()
        out["className"] = attr_value(f"{classes} {important_class}".strip())
    if tag == "img" and not svg and "alt" not in out:
        out["alt"] = '""'
    if tag == "textarea" and el.text:
        out["defaultValue"] = attr_value(el.text)
    if tag == "select" and not svg:
        selected = _selected_options(el)
        if selected:
            multiple = "multiple" in out
            out["defaultValue"] = "{" + json.dumps(selected) + "}" if multiple else attr_value(selected[-1])
    return list(out.items())


def _value(name: str, value: str, tag: str) -> str | None:
    """The rendered value, None for a bare boolean; ValueError when the prop's type rejects it."""
    if name in rp.BOOLEAN or name in {"defaultChecked"}:
        return None
    if name in rp.NUMBER:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(name) from None
        if not math.isfinite(number):
            raise ValueError(name)
        return "{" + (str(int(number)) if number.is_integer() else str(number)) + "}"
    choices = rp.ELEMENT_CHOICES.get((tag, name)) or rp.CHOICES.get(name)
    if choices is not None:
        if value in choices:
            pass
        elif value.strip().lower() in choices:
            value = value.strip().lower()
        else:
            raise ValueError(name)
    if name == "className":
        value = _WS.sub(" ", value).strip()
    return attr_value(value)


def _react_name(raw: str, svg: bool) -> str | None:
    if raw.startswith("{"):
        ns, local = raw[1:].split("}", 1)
        prefix = _NS_PREFIX.get(ns)
        if prefix == local == "xmlns":
            return "xmlns"
        return prefix + local[:1].upper() + local[1:] if prefix else None
    if raw == "xmlns":
        return raw
    if raw.startswith(("data-", "aria-")):
        return raw.lower() if raw.startswith("aria-") else raw
    if not svg:
        return rp.RENAMED.get(raw, raw)
    if raw == "class":
        return "className"
    return re.sub(r"[-:]([a-z])", lambda m: m.group(1).upper(), raw)


def _declared(name: str, tag: str, svg: bool) -> bool:
    if name.startswith(("data-", "aria-")):
        return True
    if svg:
        return name in rp.SVG
    return name in rp.GLOBAL or name in rp.ELEMENT.get(tag, frozenset())


def _selected_options(select: ET.Element) -> list[str]:
    values = []
    for option in select.iter("option"):
        if "selected" in option.attrib:
            value = option.get("value")
            if value is None:
                value = _WS.sub(" ", "".join(option.itertext())).strip()
            values.append(value)
    return values


def attr_value(value: str) -> str:
    """A JSX attribute value: a plain string literal when safe, else a JS string expression."""
    if re.search(r"[\"&\\\n\r\t\x00-\x1f\u2028\u2029]", value):
        return "{" + js_string(value) + "}"
    return f'"{value}"'


def js_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _style_object(css: str) -> tuple[str, str]:
    """A style attribute → (the object literal of its plain declarations, its `!important` declarations as
    CSS text). Comments are not declarations: `a: b; /* c: d; */` is one property."""
    pairs = []
    forced = []
    for declaration in _split_declarations(strip_css_comments(css)):
        prop, sep, value = declaration.partition(":")
        prop, value = prop.strip(), value.strip()
        if not sep or not prop or not value:
            continue
        bare = re.sub(r"\s*!\s*important\s*$", "", value, flags=re.I)
        if bare != value:
            if bare and not re.search(r"[{}<>]", prop + bare):
                forced.append(f"{prop.lower() if not prop.startswith('--') else prop}: {bare} !important")
            continue
        key = prop if prop.startswith("--") else _css_property(prop)
        key_src = key if re.fullmatch(r"[A-Za-z_$][\w$]*", key) else json.dumps(key)
        pairs.append(f"{key_src}: {js_string(value)}")
    return ("{ " + ", ".join(pairs) + " }" if pairs else "{}"), "; ".join(forced)


def strip_css_comments(css: str) -> str:
    """CSS without `/* … */` comments (outside strings), each replaced by a space as CSS reads it."""
    out: list[str] = []
    i, quote = 0, ""
    while i < len(css):
        ch = css[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = len(css) if end < 0 else end + 2
            out.append(" ")
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _css_property(prop: str) -> str:
    prop = prop.lower()
    if prop.startswith("-ms-"):
        prop = prop[1:]
    camel = re.sub(r"-([a-z])", lambda m: m.group(1).upper(), prop)
    return camel[:1].upper() + camel[1:] if prop.startswith("-") else camel


def _split_declarations(css: str) -> list[str]:
    """Split `a: b; c: url("x;y")` on the semicolons that end declarations."""
    out: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in css:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0:
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return [d for d in out if d.strip()]
