"""The scaffold step's work: a buildable Next.js workspace from the spec, before any agent runs.

The starter is copied, each selected preview becomes `components/<pageId>/Page.tsx` (real JSX, see
`html_to_jsx`; its Alpine.js toggles client components next to it, see `alpine`) with its `<style>`
blocks in `page.css` and the starter packages standing for the CDN stylesheets it linked imported by it
(`assets`) or their vendored copies under `public/vendor/` linked (`vendor`), each route gets an `app/<route>/page.tsx` with the
preview's title and description as metadata, the previews' Tailwind config and the spec's style become
`@theme` tokens in `app/globals.css`, and every action gets an `app/api/<action>/route.ts` stub. The
layout adds no navigation of its own (the previews have theirs); `lib/site.ts` lists the pages.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from appgen.scaffold import templates
from appgen.scaffold.assets import package_imports
from appgen.scaffold.html_to_jsx import convert_document
from appgen.scaffold.theme import Theme, add_style, read_tailwind_config, theme_tokens
from appgen.scaffold.tsx_file import with_css_imports, with_runtime_stylesheets
from appgen.scaffold.vendor import MANIFEST, FetchedStylesheet, VendoredFile, manifest, vendored_file
from appgen.spec import GenerationSpec, Page, action_route_dir, route_to_dir

INPUT_DIR = ".agent/input"


def preview_input_path(page_id: str) -> str:
    """Where the workspace keeps a page's selected preview for agents to read (never packaged)."""
    return f"{INPUT_DIR}/previews/{page_id}.html"


_IGNORED = shutil.ignore_patterns("node_modules", ".next")
# Files Next.js gives a meaning in a route directory; in a page's directory they would reach other
# routes (layout, loading, error… wrap every nested route), so a page agent may not create them.
_SPECIAL = re.compile(
    r"(layout|template|loading|error|global-error|not-found|forbidden|unauthorized|default|route|"
    r"icon|apple-icon|opengraph-image|twitter-image|sitemap|robots|manifest|favicon)\.[a-z]+"
    r"|globals\.css"
)


@dataclass(frozen=True)
class ScaffoldWarning:
    code: str
    message: str
    page_id: str | None = None


@dataclass(frozen=True)
class ScaffoldedPage:
    page_id: str
    route: str
    files: list[str]


@dataclass(frozen=True)
class ScaffoldResult:
    warnings: list[ScaffoldWarning]
    pages: list[ScaffoldedPage]
    vendored: dict[str, VendoredFile] = field(default_factory=dict)  # linked href -> its copy in public/


@dataclass(frozen=True)
class PagePaths:
    """The files one page's agent may write: its route directory (not nested routes) and its components."""

    page_id: str
    route_dir: str

    def allows(self, relpath: str) -> bool:
        path = PurePosixPath(relpath)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            return False
        if path.parts[:2] == ("components", self.page_id) and len(path.parts) > 2:
            return True
        return str(path.parent) == self.route_dir and not _SPECIAL.fullmatch(path.name)

    def describe(self) -> list[str]:
        return [
            f"{self.route_dir}/page.tsx (and other files directly in {self.route_dir}/, "
            "except Next.js special files such as layout.tsx, loading.tsx, globals.css)",
            f"components/{self.page_id}/**",
        ]


def page_paths(page: Page) -> PagePaths:
    return PagePaths(page.page_id, route_to_dir(page.route))


def scaffold_workspace(
    spec: GenerationSpec,
    dest: Path,
    *,
    starter_dir: Path,
    stylesheets: Mapping[str, FetchedStylesheet] | None = None,
) -> ScaffoldResult:
    """`stylesheets`: what the worker fetched of `vendor.stylesheets_to_fetch(spec.pages)` (by href), to
    vendor; None when vendoring is off (every such stylesheet stays a runtime link)."""
    shutil.copytree(starter_dir, dest, ignore=_IGNORED, dirs_exist_ok=True)
    _write(dest, f"{INPUT_DIR}/spec.json", _spec_json(spec))
    warnings: list[ScaffoldWarning] = []
    pages: list[ScaffoldedPage] = []
    theme = Theme()
    resolve = _link_resolver(spec.pages)
    lang = None
    converted_pages = []
    for page in spec.pages:
        converted = convert_document(
            page.selected_preview_html,
            page_id=page.page_id,
            component=templates.component_name(page.page_id),
            resolve_link=resolve,
            css_import="./page.css",
        )
        lang = lang or converted.lang
        warnings += [ScaffoldWarning(n.code, n.message, page.page_id) for n in converted.notices]
        own = Theme()
        for script in converted.scripts:
            read_tailwind_config(script, own)
        warnings += [ScaffoldWarning("theme_skipped", p, page.page_id) for p in own.problems]
        theme.merge(own)
        converted_pages.append((page, converted, own))

    add_style(spec.style, theme)
    warnings += [ScaffoldWarning("theme_skipped", p) for p in theme.problems]
    globals_css = dest / "app" / "globals.css"
    existing = globals_css.read_text() if globals_css.exists() else '@import "tailwindcss";\n'
    defaults = theme_tokens(existing)

    legacy_tailwind = uses_forms = False
    vendored: dict[str, VendoredFile] = {}
    for page, converted, own in converted_pages:
        runtime, css_imports = [], []  # <link>s; starter packages the page imports, in its order
        for href in converted.stylesheets:
            imports = package_imports(href)
            if imports is not None:
                css_imports += [i for i in imports if i not in css_imports]
                continue
            fetched = (stylesheets or {}).get(href)
            copy = vendored.get(href) or (vendored_file(fetched) if fetched is not None else None)
            if copy is not None:
                vendored[href] = copy
                runtime.append(copy.href)
                continue
            runtime.append(href)
            why = _not_vendored(stylesheets, fetched)
            warnings.append(
                ScaffoldWarning(
                    "external_stylesheet",
                    f"kept {href} as a runtime <link> ({why}): the app needs the network to load it",
                    page.page_id,
                )
            )
        legacy_tailwind = legacy_tailwind or converted.tailwind in {"play", "css"}
        uses_forms = uses_forms or "forms" in converted.tailwind_plugins
        css = converted.css
        if css:
            css, problems = _page_css(css)
            warnings += [ScaffoldWarning("page_css", p, page.page_id) for p in problems]
        if converted.tailwind is not None and (scoped := theme.page_css(page.page_id, own, defaults)):
            if not css:
                css_imports.append("./page.css")  # the component imports no page CSS yet
            css = (css + "\n" if css else "") + scoped  # after any `@import`/`@reference`, which lead
        files = [f"components/{page.page_id}/Page.tsx", f"{route_to_dir(page.route)}/page.tsx"]
        _write(
            dest, files[0], with_css_imports(with_runtime_stylesheets(converted.tsx, runtime), css_imports)
        )
        _write(dest, files[1], templates.route_file(page, converted.title, converted.description))
        for name, source in converted.components.items():  # Alpine.js components as client components
            files.append(f"components/{page.page_id}/{name}")
            _write(dest, files[-1], source)
        if css:
            files.append(f"components/{page.page_id}/page.css")
            _write(dest, files[-1], css)
        _write(dest, preview_input_path(page.page_id), page.selected_preview_html)
        pages.append(ScaffoldedPage(page.page_id, page.route, files))

    for copy in vendored.values():
        _write(dest, copy.path, copy.css)
    if vendored:  # for the previews' screenshots, which are taken with the same copies (`vendor`)
        _write(dest, MANIFEST, manifest(vendored))
    extra = _tailwind_compat_css(legacy_tailwind, uses_forms)
    globals_css.write_text(existing.rstrip("\n") + "\n" + extra + theme.css())

    _write(dest, "app/layout.tsx", templates.layout(spec, lang or "en"))
    _write(dest, "lib/site.ts", templates.site_map(spec))
    if all(page.route != "/" for page in spec.pages):
        _write(dest, "app/page.tsx", templates.INDEX_PAGE)
    for action in spec.actions:
        users = [p.page_id for p in spec.pages if action in p.actions]
        _write(dest, f"{action_route_dir(action)}/route.ts", templates.api_route(action, users))
    return ScaffoldResult(warnings, pages, vendored)


def _not_vendored(
    fetched_all: Mapping[str, FetchedStylesheet] | None, fetched: FetchedStylesheet | None
) -> str:
    if fetched_all is None:
        return "stylesheet vendoring is off"
    if fetched is None:
        return "it was not fetched"
    return f"fetching it failed: {fetched.reason or 'no stylesheet'}"


def _tailwind_compat_css(legacy: bool, forms: bool) -> str:
    """What Tailwind 1-3 previews relied on that Tailwind 4's preflight changed: borders default to
    gray-200 (v4: currentColor), buttons show a pointer and placeholders are gray-400 (v4: the text colour
    at 50 %), as Tailwind's upgrade guide restores them; fields and selects keep the browser's background
    and corners (v4 makes them transparent and square, so a native select lost its grey face and its
    border); and the forms plugin
    (`@tailwindcss/forms`, a starter package) when a preview's Play CDN loaded it (`?plugins=forms`), with
    the plugin's default strategy as the CDN loads it: every field styled, plus the `form-input`…
    classes. A compiled Tailwind stylesheet from a CDN has no plugin, so its `form-input` fields were
    unstyled in the preview and stay so."""
    out = []
    if forms:
        out.append('@plugin "@tailwindcss/forms";\n')
    if legacy:
        out.append(
            "/* Tailwind 1-3 defaults the previews were designed with (appgen). */\n"
            "@layer base {\n"
            "  *, ::after, ::before, ::backdrop, ::file-selector-button {\n"
            "    border-color: var(--color-gray-200, currentColor);\n"
            "  }\n"
            '  button:not(:disabled), [role="button"]:not(:disabled) {\n'
            "    cursor: pointer;\n"
            "  }\n"
            "  input::placeholder, textarea::placeholder {\n"
            "    color: #9ca3af;\n"
            "  }\n"
            "  input, select, optgroup, textarea {\n"
            "    background-color: revert-layer;\n"
            "    border-radius: revert-layer;\n"
            "  }\n"
            "}\n"
        )
    return "\n" + "\n".join(out) if out else ""


# What each scaffold warning code means, as the job's warning says it (README: "Scaffold warnings").
WARNING_CODES = {
    "dropped_script": "scripts dropped (their behaviour needs re-implementing in React)",
    "dropped_event_handler": "inline event handlers dropped",
    "dropped_attribute": "attributes dropped (not valid in React or for the element)",
    "dropped_element": "elements dropped (template, noscript, MathML)",
    "unwrapped_element": "unknown elements replaced by their content",
    "dropped_form_action": "form targets dropped",
    "external_stylesheet": "stylesheets kept as runtime links (no starter package provides them, and no copy was vendored)",
    "unknown_class": "Tailwind 1-3 classes dropped (no Tailwind 4 equivalent, or no CSS in the preview's version)",
    "static_behaviour": "Alpine.js x-show/x-cloak content rendered hidden, without its toggle",
    "alpine_not_converted": "Alpine.js behaviour not converted to React (it stays in its initial state)",
    "page_css": "page CSS changed for Tailwind 4",
    "theme_skipped": "tailwind.config or style values skipped",
}


def summarize_warnings(warnings: list[ScaffoldWarning]) -> dict[str, str]:
    """One message per code with its count per page and the first case, e.g. `dropped_script: 3 on
    home, 1 on pricing (scripts dropped …); first: home: dropped the script https://…`."""
    by_code: dict[str, list[ScaffoldWarning]] = {}
    for warning in warnings:
        by_code.setdefault(warning.code, []).append(warning)
    out = {}
    for code, items in by_code.items():
        counts: dict[str, int] = {}
        for item in items:
            counts[item.page_id or "app"] = counts.get(item.page_id or "app", 0) + 1
        per_page = ", ".join(f"{n} on {page}" for page, n in counts.items())
        first = items[0]
        where = f"{first.page_id}: " if first.page_id else ""
        meaning = WARNING_CODES.get(code, code)
        out[code] = f"{meaning}: {per_page}; first: {where}{first.message}"[:1000]
    return out


def _write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _spec_json(spec: GenerationSpec) -> str:
    return json.dumps(spec.to_json(), indent=2, ensure_ascii=False) + "\n"


def _page_css(css: str) -> tuple[str, list[str]]:
    """Preview `<style>` blocks as a CSS file Tailwind 4 accepts: v3 `@tailwind` directives go, and
    `@apply`/`theme()` get a `@reference` to the app's stylesheet so they resolve."""
    problems = []
    if re.search(r"@tailwind\b", css):
        css = re.sub(r"@tailwind\s+[\w-]+\s*;?", "", css)
        problems.append("removed Tailwind v3 `@tailwind` directives from the page's <style>")
    if re.search(r"@apply\b|\btheme\(", css):
        css = '@reference "../../app/globals.css";\n\n' + css.lstrip()
    return css, problems


def _link_resolver(pages: list[Page]) -> Callable[[str], str | None]:
    """An href → the app route it means, for hrefs naming a page: `/pricing`, `pricing.html`,
    `/pricing/#faq`, `index.html`. Anything else (external, `#x`, mailto:, unknown paths) → None."""
    aliases: dict[str, str] = {}
    for page in pages:
        slug = page.route.strip("/")
        names = {slug, page.page_id, slug.replace("/", "-")} if slug else {"index", page.page_id}
        aliases[slug] = page.route
        for name in names:
            aliases[f"{name}.html"] = page.route
            aliases.setdefault(name, page.route)

    def resolve(href: str) -> str | None:
        href = href.strip()
        if not href or href.startswith(("#", "//")) or re.match(r"^[a-zA-Z][\w+.-]*:", href):
            return None
        match = re.match(r"([^?#]*)(.*)", href, re.S)
        path, suffix = (match.group(1), match.group(2)) if match else (href, "")
        key = path.removeprefix("./").strip("/")
        route = aliases.get(key)
        if route is None:
            return None
        return route + suffix if suffix else route

    return resolve
