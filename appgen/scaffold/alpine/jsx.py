"""The JSX side of a converted Alpine.js component (`island`): an element's props with its behaviour
applied, and the hooks module the components share (`HOOKS_FILE`)."""

from __future__ import annotations

import json
import re

from appgen.scaffold.alpine.behaviour import Behaviour
from appgen.scaffold.alpine.scope import literal

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
