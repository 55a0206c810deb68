"""The scaffold on a small spec and a minimal fake starter: which files appear with what in them, the
theme tokens, the API stubs, the warnings, and which files a page agent may touch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appgen.scaffold import page_paths, scaffold_workspace
from appgen.scaffold.cascade import without_tailwind_base
from appgen.scaffold.jsobject import (
    UNSUPPORTED,
    JsMethod,
    JsObjectError,
    parse_object_literal,
    returned_object,
)
from appgen.scaffold.theme import Theme, read_tailwind_config
from appgen.spec import GenerationSpec
from tests.fixtures.specs import small_spec

HOME = """<!doctype html><html lang="de"><head><title>Acme Home</title>
<meta name="description" content="The home of Acme.">
<script src="https://cdn.tailwindcss.com"></script>
<script>
  tailwind.config = {
    theme: {
      extend: {
        colors: { brand: { 50: '#eef2ff', DEFAULT: "#4f46e5", }, 'ink': '#0f172a' },
        fontFamily: { display: ['Space Grotesk', 'sans-serif'] },
      },
    },
  }
</script>
<style>.glow { color: red; }</style></head>
<body class="bg-white"><a href="/page-1">Next</a><h1 onclick="x()">Home</h1><script>init()</script></body></html>"""


@pytest.fixture
def starter(tmp_path: Path) -> Path:
    root = tmp_path / "starter"
    for rel, text in {
        "package.json": '{"scripts": {"build": "next build", "lint": "eslint ."}}',
        "app/layout.tsx": "export default function Layout() {}\n",
        "app/globals.css": '@import "tailwindcss";\n\n@theme {\n  --color-background: #fff;\n}\n',
        "app/page.tsx": "// placeholder\n",
        "node_modules/next/package.json": "{}",
        ".next/cache/x": "cached",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _spec(**changes: Any) -> GenerationSpec:
    raw = small_spec(3)
    raw["pages"][0]["selectedPreviewHtml"] = HOME
    raw["pages"][2]["route"] = "/docs/start"
    raw["pages"][2]["actions"] = ["signup", "contact-sales"]
    raw.update(changes)
    return GenerationSpec.model_validate(raw)


def test_scaffold_writes_a_component_and_a_route_per_page(tmp_path: Path, starter: Path) -> None:
    dest = tmp_path / "ws"
    result = scaffold_workspace(_spec(), dest, starter_dir=starter)

    assert [(p.page_id, p.route) for p in result.pages] == [
        ("home", "/"),
        ("page-1", "/page-1"),
        ("page-2", "/docs/start"),
    ]
    assert result.pages[0].files == ["components/home/Page.tsx", "app/page.tsx", "components/home/page.css"]
    assert result.pages[2].files == [
        "components/page-2/Page.tsx",
        "app/docs/start/page.tsx",
        "components/page-2/page.css",
    ]
    # Its preview had no Tailwind, so Tailwind's base styles stay off it.
    assert (dest / "components/page-2/page.css").read_text() == without_tailwind_base("page-2")
    for page in result.pages:
        assert all((dest / f).is_file() for f in page.files)
    assert not (dest / "node_modules").exists() and not (dest / ".next").exists()
    assert (dest / "package.json").read_text() == (starter / "package.json").read_text()

    home = (dest / "components/home/Page.tsx").read_text()
    assert 'import "./page.css";' in home and 'import Link from "next/link";' in home
    assert '<div data-appgen-page="home" className="bg-white">' in home
    assert '<Link href="/page-1">' in home and "onclick" not in home
    assert (
        dest / "components/home/page.css"
    ).read_text() == "@layer components {\n  .glow { color: red; }\n}\n"
    assert (dest / "app/page.tsx").read_text() == (
        'import type { Metadata } from "next";\n'
        'import HomePage from "@/components/home/Page";\n\n'
        "export const metadata: Metadata = {\n"
        '  title: "Acme Home",\n'
        '  description: "The home of Acme.",\n'
        "};\n\n"
        "export default function HomeRoute() {\n"
        "  return <HomePage />;\n"
        "}\n"
    )
    nested = (dest / "app/docs/start/page.tsx").read_text()
    assert 'import Page2Page from "@/components/page-2/Page";' in nested
    assert 'title: "Page 2",' in nested and "description" not in nested


def test_layout_site_map_and_agent_input(tmp_path: Path, starter: Path) -> None:
    dest = tmp_path / "ws"
    spec = _spec()
    scaffold_workspace(spec, dest, starter_dir=starter)
    layout = (dest / "app/layout.tsx").read_text()
    assert '<html lang="de">' in layout and 'import "./globals.css";' in layout
    assert "<body>{children}</body>" in layout and "Link" not in layout  # the previews carry their own nav
    assert 'title: "Test app",' in layout
    site = (dest / "lib/site.ts").read_text()
    assert site.index('"home"') < site.index('"page-1"') < site.index('"page-2"')
    assert '{ id: "page-2", name: "Page 2", href: "/docs/start" },' in site
    assert json.loads((dest / ".agent/input/spec.json").read_text()) == spec.to_json()
    assert (dest / ".agent/input/previews/home.html").read_text() == HOME


def test_theme_tokens_are_appended_to_the_starter_globals(tmp_path: Path, starter: Path) -> None:
    dest = tmp_path / "ws"
    scaffold_workspace(_spec(), dest, starter_dir=starter)
    css = (dest / "app/globals.css").read_text()
    assert css.startswith((starter / "app/globals.css").read_text().rstrip("\n"))
    theme = css[css.rindex("@theme {") :]
    assert theme.splitlines()[1:] == [
        "  --color-brand-50: #eef2ff;",
        "  --color-brand: #4f46e5;",
        "  --color-ink: #0f172a;",
        '  --font-display: "Space Grotesk", sans-serif;',
        "  --color-palette-1: #111827;",  # spec palette: bare value, numbered
        "  --font-inter: Inter;",  # spec typography: bare family
        "}",
    ]


def test_each_page_keeps_its_own_theme_values_where_the_apps_differ(tmp_path: Path, starter: Path) -> None:
    (starter / "app/globals.css").write_text(
        '@import "tailwindcss";\n\n@theme {\n  --font-sans: system-ui;\n}\n'
    )
    cdn = '<script src="https://cdn.tailwindcss.com"></script>'
    other = HOME.replace('DEFAULT: "#4f46e5"', 'DEFAULT: "#b45309"').replace(
        "fontFamily: {", "fontFamily: { sans: ['Inter', 'sans-serif'],"
    )
    raw = small_spec(4)
    for page, html in zip(raw["pages"], [HOME, other, f"{cdn}<p>x</p>", "<p>x</p>"], strict=True):
        page["selectedPreviewHtml"] = html
    dest = tmp_path / "ws"
    result = scaffold_workspace(GenerationSpec.model_validate(raw), dest, starter_dir=starter)
    assert not [w for w in result.warnings if w.code == "theme_skipped"]  # nothing is lost any more
    theme = (dest / "app/globals.css").read_text()
    assert "--color-brand: #4f46e5;" in theme and "--font-sans: Inter, sans-serif;" in theme
    assert (
        (dest / "components/page-1/page.css")
        .read_text()
        .endswith(
            "/* This page's own theme values, where the app's differ (appgen). */\n"
            '@layer base {\n  [data-appgen-page="page-1"] {\n    --color-brand: #b45309;\n  }\n}\n'
        )
    )
    # Pages whose config left the font alone had the default font where another page changed it.
    default_font = (
        "/* This page's own theme values, where the app's differ (appgen). */\n"
        '@layer base {{\n  [data-appgen-page="{}"] {{\n    --font-sans: system-ui;\n'
        "    font-family: var(--font-sans);\n  }}\n}}\n"
    )
    assert (dest / "components/home/page.css").read_text().endswith(default_font.format("home"))
    plain = dest / "components/page-2"
    assert 'import "./page.css";' in (plain / "Page.tsx").read_text()
    assert (plain / "page.css").read_text() == default_font.format("page-2")
    assert "theme values" not in (dest / "components/page-3/page.css").read_text()  # no Tailwind at all


def test_api_route_per_action(tmp_path: Path, starter: Path) -> None:
    dest = tmp_path / "ws"
    scaffold_workspace(_spec(), dest, starter_dir=starter)
    routes = sorted(str(p.relative_to(dest)) for p in (dest / "app/api").rglob("route.ts"))
    assert routes == ["app/api/contact-sales/route.ts", "app/api/signup/route.ts"]
    signup = (dest / "app/api/signup/route.ts").read_text()
    assert "export async function POST(request: Request)" in signup
    assert "the home, page-2 page(s)" in signup
    assert 'code: "invalid_json"' in signup and "{ status: 400 }" in signup
    assert '{ error: { code: "not_implemented", message: "signup is not implemented yet" } }' in signup
    assert "{ status: 501 }" in signup


def test_warnings_carry_the_page_they_come_from(tmp_path: Path, starter: Path) -> None:
    result = scaffold_workspace(_spec(), tmp_path / "ws", starter_dir=starter)
    assert sorted((w.page_id, w.code) for w in result.warnings) == [
        ("home", "dropped_event_handler"),
        ("home", "dropped_script"),
    ]


def test_without_a_home_page_the_root_lists_the_pages(tmp_path: Path, starter: Path) -> None:
    raw = small_spec(2)
    raw["pages"][0]["route"] = "/start"
    dest = tmp_path / "ws"
    scaffold_workspace(GenerationSpec.model_validate(raw), dest, starter_dir=starter)
    index = (dest / "app/page.tsx").read_text()
    assert "SITE_PAGES.map" in index and 'from "@/lib/site"' in index


def test_an_unreadable_tailwind_config_is_skipped_with_a_warning(tmp_path: Path, starter: Path) -> None:
    raw = small_spec(1)
    raw["pages"][0]["selectedPreviewHtml"] = (
        "<title>x</title><script>tailwind.config = { theme: { extend: { colors: { brand: ) } } }</script><p>x</p>"
    )
    result = scaffold_workspace(GenerationSpec.model_validate(raw), tmp_path / "ws", starter_dir=starter)
    skipped = [w for w in result.warnings if w.code == "theme_skipped"]
    assert [w.page_id for w in skipped] == ["home"]
    assert "could not read tailwind.config" in skipped[0].message


# -- page_paths ----------------------------------------------------------------------------------------
PATHS = [
    ("/", "app/page.tsx", True),
    ("/", "app/home.module.css", True),
    ("/", "components/home/Hero.tsx", True),
    ("/", "components/home/parts/Card.tsx", True),
    ("/", "app/layout.tsx", False),
    ("/", "app/globals.css", False),
    ("/", "app/loading.tsx", False),
    ("/", "app/pricing/page.tsx", False),
    ("/", "app/api/signup/route.ts", False),
    ("/", "components/pricing/Page.tsx", False),
    ("/", "components/home", False),
    ("/", "components/homepage/Page.tsx", False),
    ("/", "lib/site.ts", False),
    ("/", "package.json", False),
    ("/", "app/../package.json", False),
    ("/", "/app/page.tsx", False),
    ("/pricing", "app/pricing/page.tsx", True),
    ("/pricing", "app/pricing/pricing.css", True),
    ("/pricing", "app/pricing/layout.tsx", False),
    ("/pricing", "app/pricing/route.ts", False),
    ("/pricing", "app/pricing/annual/page.tsx", False),
    ("/pricing", "app/page.tsx", False),
    ("/pricing", "components/pricing/Page.tsx", True),
]


@pytest.mark.parametrize(("route", "path", "allowed"), PATHS)
def test_page_paths(route: str, path: str, allowed: bool) -> None:
    raw = small_spec(2)["pages"][1]
    raw.update(route=route, pageId="home" if route == "/" else "pricing")
    page = GenerationSpec.model_validate({**small_spec(1), "pages": [raw]}).pages[0]
    assert page_paths(page).allows(path) is allowed


def test_page_paths_describe_the_allowed_files_for_the_prompt() -> None:
    page = _spec().pages[2]
    assert page_paths(page).describe() == [
        "app/docs/start/page.tsx (and other files directly in app/docs/start/, except Next.js special files "
        "such as layout.tsx, loading.tsx, globals.css)",
        "components/page-2/**",
    ]


# -- the tailwind.config reader ------------------------------------------------------------------------
def test_object_literal_reader_takes_javascript_syntax() -> None:
    text = """x = {
      // a comment
      colors: { 'brand': "#111", "brand-2": `#222`, 50: '#333', nested: { DEFAULT: '#444', }, },
      /* block */ sizes: [1, 2.5, -3, 0x10,],
      flags: { on: true, off: false, none: null },
      spread: { ...base, kept: 'yes' },
      fn: function () { return 1 }, method() { return 2 }, arrow: (a) => a,
      ref: colors.blue, shorthand, concat: 'a' + 'b',
    }; tailwind.other = 1"""
    value, end = parse_object_literal(text, text.index("{"))
    assert text[end:].startswith("; tailwind.other")
    assert value == {
        "colors": {"brand": "#111", "brand-2": "#222", "50": "#333", "nested": {"DEFAULT": "#444"}},
        "sizes": [1, 2.5, -3, 16],
        "flags": {"on": True, "off": False, "none": None},
        "spread": {"kept": "yes"},
        "fn": UNSUPPORTED,
        "method": UNSUPPORTED,
        "arrow": UNSUPPORTED,
        "ref": UNSUPPORTED,
        "shorthand": UNSUPPORTED,
        "concat": UNSUPPORTED,
    }


def test_methods_come_back_as_source_when_asked_and_the_returned_object_is_found() -> None:
    script = """function data() {
      function theme() { return { dark: true } }
      if (x) { return null }
      return { open: false, toggle() { this.open = !this.open }, pick: function (n) { this.n = n } }
    }"""
    start = returned_object(script, script.index("{"))
    assert start is not None and script[start:].startswith("{ open: false")
    value, _ = parse_object_literal(script, start, methods=True)
    assert value == {
        "open": False,
        "toggle": JsMethod("", "this.open = !this.open"),
        "pick": JsMethod("n", "this.n = n"),
    }
    assert parse_object_literal(script, start)[0]["toggle"] is UNSUPPORTED  # the theme reader's view
    assert returned_object("function f() { return 1 }", 13) is None


@pytest.mark.parametrize("text", ["no object here", "{ a: 1 ", "{ a 1 }", "{ : 1 }"])
def test_object_literal_reader_refuses_what_is_not_a_literal(text: str) -> None:
    with pytest.raises(JsObjectError):
        parse_object_literal(text)


def test_tailwind_config_sections_map_to_theme_namespaces() -> None:
    theme = Theme()
    script = """tailwind.config = { theme: {
      colors: { ink: '#000' },
      extend: {
        colors: { darkBlue: '#00f', brand: { light: { 100: '#eef' } } },
        fontFamily: { serif: ['"Playfair Display"', 'Georgia', 'serif'], mono: 'JetBrains Mono' },
        borderRadius: { xl2: '1.25rem' }, boxShadow: { soft: '0 2px 8px rgb(0 0 0 / .1)' },
        fontSize: { huge: ['5rem', { lineHeight: '1' }], tiny: '0.6rem' },
        animation: { 'fade-in': 'fadeIn .5s ease-out' },
        keyframes: { fadeIn: { '0%': { opacity: '0' }, '100%': { opacity: '1' } } },
        colorsBad: { x: 1 }, spacing: { 18: '4.5rem', bad: 'x; } body { color: red' },
      },
    } }"""
    assert read_tailwind_config(script, theme)
    assert theme.tokens == {
        "color-darkBlue": "#00f",
        "color-brand-light-100": "#eef",
        "font-serif": '"Playfair Display", Georgia, serif',
        "font-mono": '"JetBrains Mono"',
        "radius-xl2": "1.25rem",
        "shadow-soft": "0 2px 8px rgb(0 0 0 / .1)",
        "spacing-18": "4.5rem",
        "animate-fade-in": "fadeIn .5s ease-out",
        "text-huge": "5rem",
        "text-huge--line-height": "1",
        "text-tiny": "0.6rem",
        "color-ink": "#000",
    }
    assert theme.keyframes == {"fadeIn": " 0% { opacity: 0 } 100% { opacity: 1 } "}
    assert theme.problems == [
        "skipped theme value for --spacing-bad: 'x; } body { color: red' is not a plain CSS value"
    ]
    assert "@keyframes fadeIn { 0% { opacity: 0 } 100% { opacity: 1 } }" in theme.css()
    assert not read_tailwind_config("console.log(1)", theme)
