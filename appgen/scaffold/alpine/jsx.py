"""The JSX side of a converted Alpine.js component (`island`): an element's props with its behaviour
applied, the component's file (`Alpine<Name>.tsx`, a `"use client"` module the page renders) and the
hooks module the components share (`HOOKS_FILE`)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from appgen.scaffold.alpine.behaviour import Behaviour
from appgen.scaffold.alpine.island import PAGE_LABELS, Island
from appgen.scaffold.alpine.scope import literal
from appgen.scaffold.tsx_file import TsxFile, module

Props = list[tuple[str, str | None]]
HOOKS_FILE = "alpine.ts"


def apply(props: Props, behaviour: Behaviour, classes: list[tuple[str, str]]) -> Props:
    """`props` with the element's converted directives: `className` with its conditional `classes`
    (already in Tailwind 4), `style` hiding it while its `x-show` is false, handlers, refs and bound
    `aria-*` props (replacing a static one of the same name)."""
    out = dict(props)
    if classes or behaviour.class_expr:
        out["className"] = _class_name(_string(out.get("className")), classes, behaviour.class_expr)
    if behaviour.shown is not None:
        hidden = '{ display: "none" }'
        test = group(behaviour.shown)
        inner = out.get("style")
        if inner is None:
            out["style"] = f"{{{test} ? undefined : {hidden}}}"
        else:
            out["style"] = f"{{{{ ...({inner[1:-1]}), ...({test} ? {{}} : {hidden}) }}}}"
    for name, value in behaviour.props:
        out[name] = value
    return list(out.items())


def _string(value: str | None) -> str:
    """A rendered JSX attribute value (`attr_value`) back to its text."""
    if not value:
        return ""
    if value.startswith('"'):
        return value[1:-1]
    return str(json.loads(value[1:-1]))


def _class_name(static: str, classes: list[tuple[str, str]], expression: str | None) -> str:
    parts = [static.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")]
    for index, (names, test) in enumerate(classes):
        text = names if not static and index == 0 else " " + names
        parts.append(f'${{{group(test)} ? {literal(text)} : ""}}')
    if expression is not None:
        parts.append((" " if static or classes else "") + f"${{{expression}}}")
    return "{`" + "".join(parts) + "`}"


def group(ts: str) -> str:
    return ts if re.fullmatch(r"!?[\w$]+", ts) else f"({ts})"


def component_name(el: ET.Element, label: str, taken: dict[str, str]) -> str:
    """`AlpineMobileMenu` from the element's id (or tag; `AlpinePage` for the page's own x-data), with a
    number when a file of that name is `taken`."""
    base = "Page" if label in PAGE_LABELS else _pascal(el.get("id") or el.tag)
    base = base if base.startswith("Alpine") else "Alpine" + base
    name, n = base, 1
    while f"{name}.tsx" in taken:
        n += 1
        name = f"{base}{n}"
    return name


def component_files(name: str, island: Island, file: TsxFile, body: list[str]) -> dict[str, str]:
    """The component's module (its state and handlers, returning the JSX `body` that `file` describes),
    and the hooks module when it uses one."""
    files = {}
    hooks = island.code.hook_names()
    if hooks:
        file.imports.append(f'import {{ {", ".join(hooks)} }} from "./{HOOKS_FILE[:-3]}";')
        files[HOOKS_FILE] = HOOKS
    head = ['"use client";', "", *file.head(react=("useState",))]
    signature = (
        f"// The preview's Alpine.js component ({island.label}), its state in React (appgen scaffold).\n"
        f"export default function {name}() {{"
    )
    files[f"{name}.tsx"] = module(head, signature, island.code.declarations(), body)
    return files


def _pascal(text: str) -> str:
    """`mobile-menu` → `MobileMenu`: a component name from an id or a tag."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)
    return name if name[:1].isalpha() else f"X{name}"


HOOKS = """// Alpine.js behaviour the scaffold converted to React (appgen): `@click.away` and `@keydown.escape.window`.
import { useCallback, useEffect, useEffectEvent, useRef } from "react";

/**
 * Alpine's `@click.away` / `@click.outside`: `handler` runs after a click outside the element, when the
 * element was shown as the click began (so the click that opens it does not close it again). Returns the
 * ref callback for the element.
 */
export function useClickAway(handler: () => void): (node: Element | null) => void {
  const element = useRef<Element | null>(null);
  const onAway = useEffectEvent(handler);
  useEffect(() => {
    let armed = false;
    const before = (event: MouseEvent) => {
      const node = element.current;
      armed = node !== null && node.getClientRects().length > 0 && !node.contains(event.target as Node);
    };
    const after = () => {
      if (armed) onAway();
      armed = false;
    };
    document.addEventListener("click", before, true);
    document.addEventListener("click", after);
    return () => {
      document.removeEventListener("click", before, true);
      document.removeEventListener("click", after);
    };
  }, []);
  return useCallback((node: Element | null) => {
    element.current = node;
  }, []);
}

/** Alpine's `@keydown.<key>.window`: `handler` runs when `key` is pressed anywhere on the page. */
export function useWindowKey(key: string, handler: () => void): void {
  const onKey = useEffectEvent(handler);
  useEffect(() => {
    const listener = (event: KeyboardEvent) => {
      if (event.key === key) onKey();
    };
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, [key]);
}
"""
