"""Design tokens for Tailwind 4's `@theme`, from the previews' `tailwind.config` and the spec's style.

Previews are rendered with the Tailwind CDN, configured by `tailwind.config = {theme: {extend: {…}}}`.
Tailwind 4 reads the same tokens from CSS variables instead, so each supported section maps to a
variable namespace (`colors.brand.500` → `--color-brand-500`, `fontFamily.display` → `--font-display`).
The previews win over the spec's palette: they are what the user saw and picked.

Tailwind 4's theme is one per app, while each preview had its own config (or none). The app's `@theme`
holds every token (the first page's value where two differ), so every utility exists; a page whose own
value differs, or which had no config where another page changed a default (`--font-sans`), gets its
values back as custom properties on its own root (`page_css`). Utilities read the variables, so they
follow; the page's default font is set again there, as the Play CDN's base styles set it on `<html>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from appgen.scaffold.jsobject import UNSUPPORTED, JsObjectError, parse_object_literal
from appgen.spec import FontChoice, PaletteColor, Style

_CONFIG = re.compile(r"\btailwind\.config\s*=\s*")
# tailwind.config section -> Tailwind 4 theme variable namespace
_NAMESPACES = {
    "colors": "color",
    "fontFamily": "font",
    "borderRadius": "radius",
    "boxShadow": "shadow",
    "screens": "breakpoint",
    "letterSpacing": "tracking",
    "maxWidth": "container",
    "spacing": "spacing",
    "animation": "animate",
}
_GENERIC_FONTS = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "ui-sans-serif"}
_UNSAFE_VALUE = re.compile(r"[;{}\n\r<>]|\*/|/\*")


@dataclass
class Theme:
    """Collected tokens (first definition wins) and human-readable problems met on the way."""

    tokens: dict[str, str] = field(default_factory=dict)
    keyframes: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, value: str, *, fallback: bool = False) -> None:
        """Record `--name: value`. A `fallback` value gives way silently to one already recorded."""
        if _UNSAFE_VALUE.search(value) or not value.strip():
            self.problems.append(f"skipped theme value for --{name}: {value[:60]!r} is not a plain CSS value")
        elif self.tokens.get(name, value) != value and not fallback:
            self.problems.append(f"--{name} is defined differently by two previews; kept the first")
        else:
            self.tokens.setdefault(name, value)

    def merge(self, other: Theme) -> None:
        """Another page's tokens, the first definition winning without a problem (see `page_css`)."""
        for name, value in other.tokens.items():
            self.tokens.setdefault(name, value)
        for name, body in other.keyframes.items():
            self.keyframes.setdefault(name, body)

    def page_css(self, page_id: str, own: Theme, defaults: dict[str, str]) -> str:
        """The page's own values of the tokens whose app-wide value differs from them, on the page's root;
        `self` is the app's theme, `own` the page's, `defaults` the starter's `@theme` tokens."""
        overrides = {}
        for name, value in self.tokens.items():
            mine = own.tokens.get(name, defaults.get(name))
            if mine is not None and mine != value:
                overrides[name] = mine
        if not overrides:
            return ""
        lines = [f"    --{name}: {value};" for name, value in overrides.items()]
        if "font-sans" in overrides:
            lines.append("    font-family: var(--font-sans);")
        return (
            "/* This page's own theme values, where the app's differ (appgen). */\n"
            f'@layer base {{\n  [data-appgen-page="{page_id}"] {{\n' + "\n".join(lines) + "\n  }\n}\n"
        )

    def css(self) -> str:
        if not self.tokens and not self.keyframes:
            return ""
        lines = ["", "/* Design tokens from the previews' tailwind.config and the spec's style (appgen). */"]
        lines.append("@theme {")
        lines += [f"  --{name}: {value};" for name, value in self.tokens.items()]
        for name, body in self.keyframes.items():
            lines.append(f"  @keyframes {name} {{{body}}}")
        lines.append("}")
        return "\n".join(lines) + "\n"


def theme_tokens(css: str) -> dict[str, str]:
    """The `--name: value` tokens of the `@theme` blocks of a stylesheet (the starter's `globals.css`)."""
    tokens: dict[str, str] = {}
    for block in re.findall(r"@theme\s*\{([^{}]*)\}", css):
        for name, value in re.findall(r"--([\w-]+)\s*:\s*([^;]+);", block):
            tokens[name] = value.strip()
    return tokens


def read_tailwind_config(script: str, theme: Theme) -> bool:
    """Fold the tokens of a `tailwind.config = {…}` script into `theme`; False if it has no config."""
    match = _CONFIG.search(script)
    if not match:
        return False
    try:
        config, _ = parse_object_literal(script, match.end())
    except JsObjectError as exc:
        theme.problems.append(f"could not read tailwind.config ({exc}); its theme was skipped")
        return True
    section = config.get("theme")
    if not isinstance(section, dict):
        return True
    extend = section.get("extend")
    for source in (extend if isinstance(extend, dict) else {}, section):
        for key, namespace in _NAMESPACES.items():
            values = source.get(key)
            if isinstance(values, dict):
                _add_section(theme, namespace, values)
        frames = source.get("keyframes")
        if isinstance(frames, dict):
            for name, steps in frames.items():
                body = _keyframes(steps)
                if body is not None and _key(name):
                    theme.keyframes.setdefault(_key(name), body)
        sizes = source.get("fontSize")
        if isinstance(sizes, dict):
            _add_font_sizes(theme, sizes)
    return True


def add_style(style: Style, theme: Theme) -> None:
    """The spec's palette and typography: named entries become tokens; bare values are numbered."""
    for index, color in enumerate(style.palette, start=1):
        if isinstance(color, PaletteColor):
            theme.add(f"color-{_slug(color.name) or f'palette-{index}'}", color.value, fallback=True)
        else:
            theme.add(f"color-palette-{index}", color, fallback=True)
    for font in style.typography:
        if isinstance(font, FontChoice):
            name = _slug(font.role) or _slug(font.family)
            theme.add(f"font-{name}", _font_stack([font.family]), fallback=True)
        elif _slug(font):
            theme.add(f"font-{_slug(font)}", _font_stack([font]), fallback=True)


def _add_section(theme: Theme, namespace: str, values: dict[str, Any]) -> None:
    for path, value in _flatten(values):
        name = "-".join(part for part in (namespace, *path) if part)
        if namespace == "font":
            stack = value if isinstance(value, list) else [value]
            fonts = [v for v in stack if isinstance(v, str)]
            if fonts:
                theme.add(name, _font_stack(fonts))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            theme.add(name, str(value))
        else:
            theme.problems.append(f"skipped --{name}: its value is not a literal")


def _add_font_sizes(theme: Theme, sizes: dict[str, Any]) -> None:
    for key, value in sizes.items():
        name = f"text-{_key(key)}"
        if isinstance(value, list) and value and isinstance(value[0], str):
            theme.add(name, value[0])
            extra = value[1] if len(value) > 1 else None
            line_height = extra.get("lineHeight") if isinstance(extra, dict) else extra
            if isinstance(line_height, str):
                theme.add(f"{name}--line-height", line_height)
        elif isinstance(value, str):
            theme.add(name, value)


def _flatten(values: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """`{brand: {DEFAULT: a, 500: b}}` → (("brand",), a), (("brand", "500"), b)."""
    for key, value in values.items():
        part = "" if key == "DEFAULT" else _key(str(key))
        if key != "DEFAULT" and not part:
            continue
        path = (*prefix, part) if part else prefix
        if isinstance(value, dict):
            yield from _flatten(value, path)
        elif value is not UNSUPPORTED:
            yield path, value


def _keyframes(steps: Any) -> str | None:
    if not isinstance(steps, dict):
        return None
    parts = []
    for selector, decls in steps.items():
        if not isinstance(decls, dict) or _UNSAFE_VALUE.search(str(selector)):
            return None
        body = "; ".join(
            f"{_kebab(prop)}: {value}"
            for prop, value in decls.items()
            if isinstance(value, str | int | float) and not _UNSAFE_VALUE.search(str(value))
        )
        parts.append(f" {selector} {{ {body} }}")
    return "".join(parts) + " "


def _font_stack(fonts: list[str]) -> str:
    out = []
    for font in fonts:
        font = font.strip()
        bare = font.strip("'\"")
        if font[:1] in "'\"" or bare in _GENERIC_FONTS or re.fullmatch(r"[A-Za-z-]+", bare):
            out.append(font)
        else:
            out.append('"' + bare.replace('"', "") + '"')
    return ", ".join(out)


def _slug(text: str) -> str:
    """A spec name as a token name: "Brand Primary" → `brand-primary`."""
    return re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-")


def _key(text: str) -> str:
    """A config key as a token name, case kept: the previews' classes say `bg-darkBlue`."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text.strip().replace(".", "_")).strip("-")


def _kebab(prop: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), prop)
