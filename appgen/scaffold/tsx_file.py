"""A TSX module the scaffold writes (a page's component, or an Alpine.js component next to it): the
imports its JSX needs, its layout (`module`), and the stylesheets added to a page's: starter packages'
CSS it imports and runtime stylesheet links."""

from __future__ import annotations

from dataclasses import dataclass, field

from appgen.scaffold.jsx_props import attr_value, js_string


@dataclass
class TsxFile:
    """What one TSX file's JSX needs imported, noted while its JSX is written."""

    uses_link: bool = False
    uses_img: bool = False
    uses_style: bool = False
    imports: list[str] = field(default_factory=list)  # the page's own components

    def head(self, react: tuple[str, ...] = ()) -> list[str]:
        head = []
        if self.uses_img:
            head.append(
                "/* eslint-disable @next/next/no-img-element -- preview images are kept as they were */"
            )
        values = [*(["type CSSProperties"] if self.uses_style else []), *react]
        if values == ["type CSSProperties"]:
            head.append('import type { CSSProperties } from "react";')
        elif values:
            head.append(f'import {{ {", ".join(values)} }} from "react";')
        if self.uses_link:
            head.append('import Link from "next/link";')
        return head + self.imports


def module(head: list[str], signature: str, declarations: list[str], body: list[str]) -> str:
    """The file: its `head` lines, then the component (`signature`) declaring `declarations` and
    returning the JSX `body`."""
    lines = [*head, "", signature, *declarations, "  return (", *body, "  );", "}", ""]
    return "\n".join(lines).lstrip("\n")


def with_css_imports(tsx: str, modules: list[str]) -> str:
    """The component importing `modules` (CSS of starter packages, see `assets`) before its own page CSS,
    as the preview linked them before its `<style>`: the page that linked Bootstrap gets Bootstrap, and
    the app's other pages do not (its reboot and `!important` utilities would restyle them)."""
    if not modules:
        return tsx
    lines = tsx.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(('import "', "export default function")))
    added = [f"import {js_string(module)};" for module in modules]
    if lines[at].startswith("export"):  # no page CSS: after the other imports, before the blank line
        at, added = (at - 1, added) if at and not lines[at - 1] else (at, [*added, ""])
    return "\n".join(lines[:at] + added + lines[at:])


def with_runtime_stylesheets(tsx: str, hrefs: list[str]) -> str:
    """The component with `<link rel="stylesheet">`s React 19 hoists into <head> (`precedence`), for
    stylesheets no starter package provides (see `assets`): a CDN's, or its copy vendored under `public/`
    (`vendor`), which Next's lint rule against linking local stylesheets is told about."""
    if not hrefs:
        return tsx
    start = tsx.index("  return (\n") + len("  return (\n")
    end = tsx.rindex("\n  );\n}")
    links = "".join(
        (_VENDORED_NOTE if h.startswith("/vendor/") else "")
        + f'      <link rel="stylesheet" href={attr_value(h)} precedence="default" />\n'
        for h in hrefs
    )
    return tsx[:start] + "    <>\n" + links + tsx[start:end] + "\n    </>" + tsx[end:]


_VENDORED_NOTE = "      {/* eslint-disable-next-line @next/next/no-css-tags -- the preview's stylesheet, vendored as is */}\n"
