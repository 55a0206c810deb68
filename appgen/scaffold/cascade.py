"""Where a preview's own CSS goes in Tailwind 4's cascade layers, so it wins and loses where it did.

In the designer's browser every stylesheet was unlayered, and the winner of a conflict between the
preview's `<style>` and a Tailwind class was decided by specificity, then by order:

- Tailwind's Play CDN (`cdn.tailwindcss.com`, v2/v3) injects its `<style>` at the end of `<head>`, after
  the preview's: on equal specificity Tailwind wins. `@media (max-width:640px){.hide-sm{display:none}}`
  loses to a later `.flex`, so the nav stays visible on phones. A compiled Tailwind stylesheet linked
  after the preview's `<style>` behaves the same; one linked before it loses the ties instead.
- Tailwind 4's browser build emits layered CSS, and plain unlayered CSS beats any layer.

In the app, `globals.css` imports Tailwind 4, whose utilities live in `@layer utilities`, and each page's
CSS file loads after it. Unlayered page CSS would beat every utility (the nav disappears at 390 px). So:

- Tailwind 4 previews and previews without Tailwind: the page's CSS stays unlayered, as it was.
- Tailwind injected after the page's CSS: a rule no more specific than one class (what a utility is) goes
  to `@layer components`, before the utilities, so ties go to Tailwind as in the preview; a more specific
  rule goes to `@layer utilities`, where specificity decides against the utilities as it did.
- Tailwind linked before the page's CSS: every rule goes to `@layer utilities`, after Tailwind's own, so
  the page wins ties and specificity still decides.

Only style rules move (also inside `@media`/`@supports`); `@font-face`, `@keyframes`, `@import`, `@page`
and the like stay where they are.

A preview without Tailwind (Bootstrap, its own stylesheet) never had Tailwind's base styles (preflight:
no margins, unstyled lists and headings, `line-height: 1.5`, block images) nor the starter's body colours
and font, yet the app's `globals.css` applies them to every page. `without_tailwind_base` reverts the base
layer for that page alone: `all: revert-layer` inside `@layer base` rolls each property back to the
browser's default, while the page's own CSS, its framework's (both unlayered) and any utility an agent
adds later (a later layer) still win.
"""

from __future__ import annotations

import re

from appgen.scaffold.jsx_props import strip_css_comments

# How the preview loaded Tailwind, as far as the cascade is concerned.
UNLAYERED = "unlayered"  # no Tailwind, or Tailwind 4 (layered): keep the page's CSS as it is
TAILWIND_AFTER = "after"  # Tailwind's CSS came after the page's (the Play CDN, or a later <link>)
TAILWIND_BEFORE = "before"  # a compiled Tailwind stylesheet linked before the page's <style>

_GROUPING = re.compile(r"@(media|supports|container|layer)\b", re.I)
_ONE_CLASS = (0, 1, 0)


def layer_page_css(css: str, order: str) -> str:
    """The page's CSS with each style rule placed in the layer `order` calls for (see the module doc)."""
    if order == UNLAYERED or not css.strip():
        return css
    kept, low, high = _split(strip_css_comments(css), order)
    parts = [kept.strip()] if kept.strip() else []
    if low:
        parts.append("@layer components {\n" + _indent("\n".join(low)) + "\n}")
    if high:
        parts.append("@layer utilities {\n" + _indent("\n".join(high)) + "\n}")
    return "\n\n".join(parts) + "\n"


def without_tailwind_base(page_id: str) -> str:
    """The rule that keeps Tailwind's base layer off one page (and off `<html>`/`<body>` while it shows)."""
    root = f'[data-appgen-page="{page_id}"]'
    selectors = [
        f"html:has({root})",
        f"html:has({root}) body",
        root,
        *(
            f"{root} {part}"
            for part in ("*", "::before", "::after", "::marker", "::placeholder", "::backdrop")
        ),
        f"{root} ::file-selector-button",
    ]
    return (
        "/* The preview had no Tailwind: Tailwind's base styles stay off this page (appgen). */\n"
        "@layer base {\n  " + ",\n  ".join(selectors) + " {\n    all: revert-layer;\n  }\n}\n"
    )


def specificity(selector_list: str) -> tuple[int, int, int]:
    """The highest (ids, classes/attributes/pseudo-classes, types/pseudo-elements) of a selector list;
    `:where()` counts nothing and `:is()`/`:not()`/`:has()` count their argument, as in CSS."""
    return max((_one(s) for s in _split_top(selector_list, ",")), default=(0, 0, 0))


def _one(selector: str) -> tuple[int, int, int]:
    selector = re.sub(r":where\((?:[^()]|\([^()]*\))*\)", "", selector)
    inner = [(0, 0, 0)]
    for match in re.finditer(r":(?:is|not|has)\(((?:[^()]|\([^()]*\))*)\)", selector):
        inner.append(specificity(match.group(1)))
    selector = re.sub(r":(?:is|not|has)\((?:[^()]|\([^()]*\))*\)", "", selector)
    selector = re.sub(r"\[[^\]]*\]", ".a", selector)  # attributes count as classes
    selector = re.sub(r"\([^()]*\)", "", selector)  # :nth-child(2n+1) → :nth-child
    ids = len(re.findall(r"#[\w-]+", selector))
    elements = len(re.findall(r"::[\w-]+|:(?:before|after|first-line|first-letter)\b", selector))
    selector = re.sub(r"::[\w-]+|:(?:before|after|first-line|first-letter)\b", "", selector)
    classes = len(re.findall(r"\.[\w-]+|:[\w-]+", selector))
    elements += len(re.findall(r"(?:^|[\s>+~])([a-zA-Z][\w-]*)", selector))
    extra = max(inner)
    return (ids + extra[0], classes + extra[1], elements + extra[2])


def _split(css: str, order: str, wrap: str = "") -> tuple[str, list[str], list[str]]:
    """(text that stays, rules for the components layer, rules for the utilities layer)."""
    kept: list[str] = []
    low: list[str] = []
    high: list[str] = []
    for prelude, body in _blocks(css):
        head = prelude.strip()
        if body is None or (head.startswith("@") and not _GROUPING.match(head)):
            kept.append(prelude + ("" if body is None else "{" + body + "}"))
        elif head.startswith("@"):
            if head.lower().startswith("@layer"):
                kept.append(prelude + "{" + body + "}")  # the preview chose a layer itself
                continue
            inner_kept, inner_low, inner_high = _split(body, order, head)
            if inner_kept.strip():
                kept.append(f"{head} {{{inner_kept}}}")
            low += [f"{head} {{ {rule} }}" for rule in inner_low]
            high += [f"{head} {{ {rule} }}" for rule in inner_high]
        else:
            rule = f"{head} {{{body}}}"
            if order == TAILWIND_AFTER and specificity(head) <= _ONE_CLASS:
                low.append(rule)
            else:
                high.append(rule)
    return "".join(kept), low, high


def _blocks(css: str) -> list[tuple[str, str | None]]:
    """Top-level (prelude, block body) pairs; statements such as `@import …;` have body None."""
    out: list[tuple[str, str | None]] = []
    i, start, depth, quote = 0, 0, 0, ""
    prelude_end = -1
    while i < len(css):
        ch = css[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = len(css) if end < 0 else end + 2
            continue
        elif ch == "{":
            if depth == 0:
                prelude_end = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append((css[start:prelude_end], css[prelude_end + 1 : i]))
                start = i + 1
            depth = max(depth, 0)
        elif ch == ";" and depth == 0:
            out.append((css[start : i + 1], None))
            start = i + 1
        i += 1
    if css[start:].strip():
        out.append((css[start:], None))
    return out


def _split_top(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += 1 if ch in "([" else -1 if ch in ")]" else 0
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _indent(text: str) -> str:
    return "\n".join("  " + line if line.strip() else line for line in text.splitlines())
