"""Preview HTML → JSX, rule by rule: each case is a body fragment and the JSX expected inside the page's
wrapper (lines joined by single spaces), plus the notices the conversion must raise."""

from __future__ import annotations

import re

import pytest

from appgen.scaffold.html_to_jsx import ConvertedPage, convert_document
from appgen.scaffold.tsx_file import with_css_imports

ROUTES = {"/pricing": "/pricing", "pricing.html": "/pricing", "/": "/", "index.html": "/"}


def _resolve(href: str) -> str | None:
    path, _, fragment = href.partition("#")
    route = ROUTES.get(path)
    return None if route is None else route + (f"#{fragment}" if fragment else "")


# The previews here load Tailwind 4 unless a test says otherwise: classes are kept as written and the page
# keeps Tailwind's base styles.
TAILWIND_4 = '<script src="https://unpkg.com/@tailwindcss/browser@4"></script>'


def convert(body: str, head: str = "<title>T</title>" + TAILWIND_4) -> ConvertedPage:
    html = f"<!doctype html><html lang='en'><head>{head}</head><body>{body}</body></html>"
    return convert_document(
        html, page_id="p", component="PPage", resolve_link=_resolve, css_import="./page.css"
    )


def inner(page: ConvertedPage) -> str:
    """The JSX between the wrapper's tags, one space between lines."""
    lines = page.tsx.splitlines()
    start = next(i for i, line in enumerate(lines) if "data-appgen-page" in line)
    end = max(i for i, line in enumerate(lines) if line.strip() == "</div>")
    return " ".join(line.strip() for line in lines[start + 1 : end])


CASES = [
    # attributes renamed to React props
    ("class", '<div class="a  b\n c">x</div>', '<div className="a b c">x</div>'),
    ("for", '<label for="e">E</label>', '<label htmlFor="e">E</label>'),
    (
        "input props",
        '<input tabindex="2" maxlength="5" readonly autocomplete="email" autofocus name="e">',
        '<input tabIndex={2} maxLength={5} readOnly autoComplete="email" autoFocus name="e" />',
    ),
    (
        "table cells",
        '<table> <tr> <td colspan="2" rowspan="3">a</td> </tr> </table>',
        "<table> <tbody> <tr> <td colSpan={2} rowSpan={3}>a</td> </tr> </tbody> </table>",
    ),
    (
        "form props",
        '<form enctype="multipart/form-data" novalidate><button>Go</button></form>',
        '<form encType="multipart/form-data" noValidate> <button>Go</button> </form>',
    ),
    (
        "contenteditable",
        '<div contenteditable="true" spellcheck="false">x</div>',
        '<div contentEditable="true" suppressContentEditableWarning spellCheck="false">x</div>',
    ),
    (
        "img",
        '<img src="a.png" srcset="a.png 1x" crossorigin="anonymous">',
        '<img src="a.png" srcSet="a.png 1x" crossOrigin="anonymous" alt="" />',
    ),
    (
        "aria and data",
        '<div aria-label="x" data-foo="y" aria-level="2" aria-hidden="true">z</div>',
        '<div aria-label="x" data-foo="y" aria-level={2} aria-hidden="true">z</div>',
    ),
    # SVG: html5lib restores viewBox; hyphenated presentation attributes are camelCased
    (
        "svg",
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewbox="0 0 24 24"'
        ' stroke-width="2" stroke-linecap="round" stroke-linejoin="round" class="h-6">'
        '<path fill-rule="evenodd" clip-rule="evenodd" fill-opacity=".5" d="M0 0"/>'
        '<linearGradient id="g"><stop stop-color="red" offset="0"/></linearGradient><use xlink:href="#a"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlnsXlink="http://www.w3.org/1999/xlink" viewBox="0 0 24 24"'
        ' strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" className="h-6">'
        ' <path fillRule="evenodd" clipRule="evenodd" fillOpacity=".5" d="M0 0" />'
        ' <linearGradient id="g"> <stop stopColor="red" offset="0" /> </linearGradient>'
        ' <use xlinkHref="#a" /> </svg>',
    ),
    # style attribute → object literal
    (
        "style",
        "<div style=\"color: red; --x: 1px; -webkit-line-clamp: 2; -ms-flex: 1; background: url('a;b.png') !important\">"
        "x</div>",
        '<div style={{ color: "red", "--x": "1px", WebkitLineClamp: "2", msFlex: "1" } as CSSProperties}'
        ' className="appgen-important-1"> x </div>',
    ),
    # form fields stay uncontrolled
    (
        "checkbox",
        '<input type="checkbox" checked disabled required>',
        '<input type="checkbox" defaultChecked disabled required />',
    ),
    ("text value", '<input value="hi">', '<input defaultValue="hi" />'),
    ("submit value", '<input type="submit" value="Go">', '<input type="submit" value="Go" />'),
    (
        "select",
        '<select name="s"><option value="a">A</option><option value="b" selected>B</option></select>',
        '<select name="s" defaultValue="b"> <option value="a">A</option> <option value="b">B</option> </select>',
    ),
    (
        "select multiple",
        "<select multiple><option selected>A</option><option>B</option><option selected>C</option></select>",
        '<select multiple defaultValue={["A", "C"]}> <option>A</option> <option>B</option>'
        " <option>C</option> </select>",
    ),
    (
        "textarea",
        '<textarea rows="3">Hello\n{x}</textarea>',
        '<textarea rows={3} defaultValue={"Hello\\n{x}"} />',
    ),
    # structure
    ("void", "<p>a<br>b</p><hr>", "<p> a <br /> b </p> <hr />"),
    ("comment", "<p>a<!-- c -->b</p>", "<p>ab</p>"),
    ("empty element", '<i class="icon"></i>', '<i className="icon" />'),
    (
        "text escapes",
        '<p>It\'s "quoted" {braces} a > b &amp; c</p>',
        "<p>It&apos;s &quot;quoted&quot; &#123;braces&#125; a &gt; b &amp; c</p>",
    ),
    ("entities", "<p>&copy; 2024&nbsp;Acme &mdash; ok</p>", "<p>© 2024&nbsp;Acme — ok</p>"),
    (
        "inline whitespace",
        "<p>Hello <b>big</b> world</p>",
        '<p> Hello{" "} <b>big</b> {" "}world </p>',
    ),
    ("space between inline", "<p><b>a</b> <i>b</i></p>", '<p> <b>a</b> {" "} <i>b</i> </p>'),
    (
        "block whitespace",
        "<div>\n  <p>a</p>\n  <p>b</p>\n</div>",
        "<div> <p>a</p> <p>b</p> </div>",
    ),
    (
        "flex edges",
        '<a class="flex" href="#x"> <b>a</b> </a>',
        '<a className="flex" href="#x"> <b>a</b> </a>',
    ),
    ("pre", "<pre>  a\n  {b}</pre>", '<pre>{"  a\\n  {b}"}</pre>'),
    ("quote in attribute", "<div title='say \"hi\"'>x</div>", '<div title={"say \\"hi\\""}>x</div>'),
    ("ampersand in attribute", '<a href="?a=1&amp;b=2">x</a>', '<a href={"?a=1&b=2"}>x</a>'),
    # links
    ("internal link", '<a href="/pricing" class="x">P</a>', '<Link href="/pricing" className="x">P</Link>'),
    ("html link", '<a href="pricing.html#faq">P</a>', '<Link href="/pricing#faq">P</Link>'),
    ("anchor", '<a href="#top">Top</a>', '<a href="#top">Top</a>'),
    (
        "external",
        '<a href="https://x.com" target="_blank" rel="noopener">X</a>',
        '<a href="https://x.com" target="_blank" rel="noopener">X</a>',
    ),
    ("unknown route", '<a href="/blog">B</a>', '<a href="/blog">B</a>'),
    (
        "iframe kept",
        '<iframe src="https://maps.example/embed" allowfullscreen frameborder="0" loading="lazy"'
        ' referrerpolicy="no-referrer-when-downgrade" width="600"></iframe>',
        '<iframe src="https://maps.example/embed" allowFullScreen frameBorder="0" loading="lazy"'
        ' referrerPolicy="no-referrer-when-downgrade" width="600" />',
    ),
]


@pytest.mark.parametrize(("body", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_conversion_rule(body: str, expected: str) -> None:
    page = convert(body)
    assert inner(page) == expected, page.tsx


NOTICE_CASES = [
    ("onclick", '<button onclick="go()">Go</button>', "dropped_event_handler", "<button>Go</button>"),
    ("inline script", "<script>alert(1)</script><p>x</p>", "dropped_script", "<p>x</p>"),
    (
        "external script",
        '<script src="https://cdn.example/x.js"></script><p>x</p>',
        "dropped_script",
        "<p>x</p>",
    ),
    ("custom element", "<my-widget><p>x</p></my-widget>", "unwrapped_element", "<p>x</p>"),
    ("alpine attributes", '<div x-data="{}" @click="x">y</div>', "dropped_attribute", "<div>y</div>"),
    ("invalid button type", '<button type="link">b</button>', "dropped_attribute", "<button>b</button>"),
    ("non-numeric tabindex", '<div tabindex="x">b</div>', "dropped_attribute", "<div>b</div>"),
    ("undeclared prop", '<div name="x">b</div>', "dropped_attribute", "<div>b</div>"),
    ("template", "<template><p>t</p></template><p>x</p>", "dropped_element", "<p>x</p>"),
    ("noscript", "<noscript>js please</noscript><p>x</p>", "dropped_element", "<p>x</p>"),
    (
        "form action",
        '<form action="https://forms.example/x" method="post"><input name="e"></form>',
        "dropped_form_action",
        '<form> <input name="e" /> </form>',
    ),
]


@pytest.mark.parametrize(
    ("body", "code", "expected"), [c[1:] for c in NOTICE_CASES], ids=[c[0] for c in NOTICE_CASES]
)
def test_what_cannot_be_carried_over_is_dropped_with_a_notice(body: str, code: str, expected: str) -> None:
    page = convert(body)
    assert inner(page) == expected
    assert code in {n.code for n in page.notices}, page.notices


def test_tailwind_cdn_and_config_scripts_are_kept_for_the_theme_without_notices() -> None:
    head = (
        '<script src="https://cdn.tailwindcss.com"></script>'
        "<script>tailwind.config = {theme: {extend: {colors: {brand: '#123456'}}}}</script>"
    )
    page = convert("<p>x</p>", head=head)
    assert page.notices == []
    assert any("tailwind.config" in script for script in page.scripts)


def test_styles_become_page_css_and_external_stylesheets_are_listed_for_the_scaffold() -> None:
    head = (
        TAILWIND_4
        + '<link rel="stylesheet" href="https://fonts.example/css"><style>.a { color: red; }</style>'
    )
    page = convert("<style>.b { color: blue; }</style><p>x</p>", head=head)
    assert page.css == ".a { color: red; }\n\n.b { color: blue; }\n"
    assert 'import "./page.css";' in page.tsx
    assert page.stylesheets == ["https://fonts.example/css"]
    assert page.notices == []  # the scaffold imports a known package or keeps the link, with a warning
    assert "<style" not in page.tsx


def test_css_packages_are_imported_before_the_page_css_as_the_preview_linked_them() -> None:
    page = convert('<style>.a { color: red; }</style><img src="a.png" alt="A">')
    lines = with_css_imports(page.tsx, ["bootstrap/dist/css/bootstrap.min.css", "@fontsource/inter/400.css"])
    assert lines.splitlines()[:5] == [
        "/* eslint-disable @next/next/no-img-element -- preview images are kept as they were */",
        'import "bootstrap/dist/css/bootstrap.min.css";',
        'import "@fontsource/inter/400.css";',
        'import "./page.css";',
        "",
    ]


def test_css_packages_are_imported_after_the_other_imports_of_a_page_without_css() -> None:
    page = convert('<a href="/">h</a>')
    assert with_css_imports(page.tsx, ["a.css"]).splitlines()[:4] == [
        'import Link from "next/link";',
        'import "a.css";',
        "",
        "export default function PPage() {",
    ]
    bare = convert("<p>x</p>").tsx
    assert with_css_imports(bare, ["a.css"]) == 'import "a.css";\n\n' + bare
    assert with_css_imports(bare, []) == bare


def test_module_imports_only_what_it_uses() -> None:
    plain = convert("<p>x</p>")
    assert plain.tsx.startswith("export default function PPage() {\n  return (\n")
    assert "import" not in plain.tsx and plain.css == ""
    rich = convert('<img src="a.png" alt="A"><a href="/">h</a><p style="color: red">x</p>')
    assert rich.tsx.splitlines()[:3] == [
        "/* eslint-disable @next/next/no-img-element -- preview images are kept as they were */",
        'import type { CSSProperties } from "react";',
        'import Link from "next/link";',
    ]


def test_body_attributes_go_to_the_wrapper_and_head_gives_metadata() -> None:
    html = (
        '<html lang="fr"><head><title> Tarifs\n — Acme </title><meta name="Description" content="Nos prix">'
        '</head><body class="bg-white  text-ink" onload="init()"><p>x</p></body></html>'
    )
    page = convert_document(html, page_id="tarifs", component="TarifsPage", resolve_link=_resolve)
    assert '<div data-appgen-page="tarifs" className="bg-white text-ink">' in page.tsx
    assert (page.title, page.description, page.lang) == ("Tarifs — Acme", "Nos prix", "fr")
    assert [n.code for n in page.notices] == ["dropped_event_handler"]


def test_empty_body_gives_a_self_closing_wrapper() -> None:
    page = convert_document("<title>x</title>", page_id="e", component="EPage", resolve_link=_resolve)
    assert '<div data-appgen-page="e" />' in page.tsx
    assert page.title == "x" and page.description is None


REALISTIC = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Acme &mdash; Plans</title>
  <meta name="description" content="Plans &amp; pricing">
  <script src="https://cdn.tailwindcss.com"></script>
  <script>
    tailwind.config = { theme: { extend: { colors: { brand: { 50: '#eef2ff', 500: '#6366f1' } } } } }
  </script>
  <link href="https://fonts.googleapis.com/css2?family=Inter" rel="stylesheet">
  <style>.glow { box-shadow: 0 0 40px rgba(99,102,241,.4); }</style>
</head>
<body class="bg-slate-50 text-slate-900">
  <!-- header -->
  <header class="flex items-center justify-between p-6">
    <a href="index.html" class="font-bold">Acme</a>
    <nav class="flex gap-4" aria-label="Main">
      <a href="/pricing" aria-current="page">Pricing</a>
      <a href="https://docs.example.com" target="_blank" rel="noopener">Docs</a>
    </nav>
  </header>
  <main>
    <h1 class="text-4xl">Plans that don't <em>hold you back</em></h1>
    <p>Pay {monthly} or yearly &mdash; save 20% &gt; always.</p>
    <svg class="h-5 w-5" viewBox="0 0 20 20" fill="currentColor" aria-hidden="true">
      <path fill-rule="evenodd" d="M10 18a8 8 0 100-16 8 8 0 000 16z" clip-rule="evenodd"/>
    </svg>
    <img src="https://images.example/hero.jpg" class="rounded-xl">
    <form action="/api/subscribe" method="post" class="mt-6 flex gap-2" onsubmit="return send(event)">
      <label for="email" class="sr-only">Email</label>
      <input id="email" type="email" name="email" placeholder="you@example.com" required>
      <select name="plan"><option>Starter</option><option selected>Team</option></select>
      <textarea name="note" rows="2">Hi there</textarea>
      <input type="checkbox" id="terms" checked> <label for="terms">I agree</label>
      <button type="submit" class="glow rounded-lg bg-brand-500 px-4 py-2 text-white">Subscribe</button>
    </form>
    <table class="mt-8"><thead><tr><th>Plan</th><th>Price</th></tr></thead>
      <tbody><tr><td>Starter</td><td>$0</td></tr></tbody></table>
  </main>
  <footer class="p-6 text-sm">&copy; 2025 Acme, Inc. &middot; <a href="#top">Back to top</a></footer>
  <script>document.getElementById('email').focus()</script>
</body>
</html>"""


def test_a_realistic_document_converts_to_plain_tsx() -> None:
    page = convert_document(REALISTIC, page_id="plans", component="PlansPage", resolve_link=_resolve)
    tsx = page.tsx
    assert (page.title, page.description) == ("Acme — Plans", "Plans & pricing")
    assert sorted(n.code for n in page.notices) == [
        "dropped_event_handler",
        "dropped_form_action",
        "dropped_script",
    ]
    assert page.stylesheets == ["https://fonts.googleapis.com/css2?family=Inter"]
    # a one-class rule of a Play CDN preview loses ties to utilities, as it did there (see cascade.py)
    assert page.css == "@layer components {\n  .glow { box-shadow: 0 0 40px rgba(99,102,241,.4); }\n}\n"
    assert any("tailwind.config" in s for s in page.scripts)
    for fragment in [
        '<div data-appgen-page="plans" className="bg-slate-50 text-slate-900">',
        '<Link href="/" className="font-bold">',
        '<Link href="/pricing" aria-current="page">',
        '<a href="https://docs.example.com" target="_blank" rel="noopener">',
        'Plans that don&apos;t{" "}',
        "Pay &#123;monthly&#125; or yearly — save 20% &gt; always.",
        '<path fillRule="evenodd" d="M10 18a8 8 0 100-16 8 8 0 000 16z" clipRule="evenodd" />',
        '<img src="https://images.example/hero.jpg" className="rounded-xl" alt="" />',
        '<form className="mt-6 flex gap-2">',
        '<select name="plan" defaultValue="Team">',
        '<textarea name="note" rows={2} defaultValue="Hi there" />',
        '<input type="checkbox" id="terms" defaultChecked />',
        '© 2025 Acme, Inc. ·{" "}',
        '<a href="#top">',
    ]:
        assert fragment in tsx, fragment
    # nothing of the HTML dialect is left
    assert not re.search(r"\sclass=|\sfor=|onsubmit|<script|<!--|<style|selected|checked(?!})", tsx)
    assert tsx.count("<Link") == tsx.count("</Link>") == 2


# -- defects found on real templates (issue 13), each from a minimal snippet ------------------------------


def test_an_svg_style_stays_a_style_element_not_visible_text() -> None:
    page = convert('<svg viewBox="0 0 1 1"><style>.a{fill:red}</style><circle class="a" r="1"/></svg>')
    assert '<style>{".a{fill:red}"}</style>' in inner(page)
    assert page.notices == []


def test_a_link_inside_an_svg_is_kept_with_its_xlink_href_as_href() -> None:
    page = convert(
        '<svg xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="/x" class="l"><circle r="1"/></a></svg>'
    )
    assert '<a href="/x" className="l"> <circle r="1" /> </a>' in inner(page)
    assert page.notices == []


def test_comments_in_a_style_attribute_are_not_properties() -> None:
    page = convert('<p style="color: red; /* margin: 0; */ padding: 1px">x</p>')
    assert inner(page) == '<p style={{ color: "red", padding: "1px" } as CSSProperties}>x</p>'


def test_important_inline_declarations_become_a_class_in_the_first_layer() -> None:
    page = convert('<p class="a" style="color: red !important; padding: 1px">x</p>')
    assert inner(page) == (
        '<p className="a appgen-important-1" style={{ padding: "1px" } as CSSProperties}>x</p>'
    )
    assert page.css == "@layer base {\n  .appgen-important-1 { color: red !important; }\n}\n"
    assert 'import "./page.css";' in page.tsx


@pytest.mark.parametrize("href", ["javascript:void(0)", " JavaScript:alert(1)", "java\tscript:x()"])
def test_javascript_urls_are_dropped_because_react_19_throws_on_them(href: str) -> None:
    page = convert(f'<a href="{href}" class="b">x</a>')
    assert inner(page) == '<a className="b">x</a>'
    assert [n.code for n in page.notices] == ["dropped_attribute"]
    assert "javascript: URLs" in page.notices[0].message
