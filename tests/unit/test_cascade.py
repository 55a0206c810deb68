"""A preview's own CSS lands in the Tailwind 4 layer where it wins and loses as it did in the designer's
browser (see `appgen/scaffold/cascade.py`)."""

from __future__ import annotations

import pytest

from appgen.scaffold.cascade import (
    TAILWIND_AFTER,
    TAILWIND_BEFORE,
    UNLAYERED,
    layer_page_css,
    specificity,
    without_tailwind_base,
)
from appgen.scaffold.html_to_jsx import convert_document

HIDE_SM = "@media (max-width:640px){.hide-sm{display:none}}"


def _css(head: str) -> str:
    html = f"<html><head>{head}</head><body><nav class='hide-sm flex'>n</nav></body></html>"
    return convert_document(html, page_id="p", component="P", resolve_link=lambda _: None).css


def test_with_the_play_cdn_a_one_class_rule_loses_ties_to_utilities_as_in_the_preview() -> None:
    # In the designer's browser the CDN's later `.flex` beat `.hide-sm`, so the nav showed on phones;
    # in @layer components (before utilities) it loses again instead of hiding the nav at 390 px.
    css = _css(f'<style>{HIDE_SM}</style><script src="https://cdn.tailwindcss.com"></script>')
    assert css == "@layer components {\n  @media (max-width:640px) { .hide-sm {display:none} }\n}\n"


def test_with_the_play_cdn_a_more_specific_rule_still_beats_utilities() -> None:
    css = _css('<script src="https://cdn.tailwindcss.com"></script><style>.card h2 { color: red }</style>')
    assert css == "@layer utilities {\n  .card h2 { color: red }\n}\n"


def test_after_a_linked_tailwind_stylesheet_the_page_wins_ties() -> None:
    link = '<link rel="stylesheet" href="https://unpkg.com/tailwindcss@2.2.19/dist/tailwind.min.css">'
    css = _css(f"{link}<style>{HIDE_SM}</style>")
    assert css == "@layer utilities {\n  @media (max-width:640px) { .hide-sm {display:none} }\n}\n"


def test_with_tailwind_4_the_css_stays_unlayered() -> None:
    head = '<script src="https://unpkg.com/@tailwindcss/browser@4"></script>'
    assert _css(f"{head}<style>{HIDE_SM}</style>") == HIDE_SM + "\n"


def test_without_tailwind_the_css_stays_unlayered_before_the_rule_that_keeps_tailwinds_base_off() -> None:
    # The preview had no preflight: its lists had bullets and its headings their sizes.
    assert _css(f"<style>{HIDE_SM}</style>") == HIDE_SM + "\n\n" + without_tailwind_base("p")
    # After the page's own CSS, whose `@import`s must stay first to count.
    imported = _css("<style>@import url(https://x.example/a.css);\n.a{color:red}</style>")
    assert imported.startswith("@import url(https://x.example/a.css);")
    assert _css("") == without_tailwind_base("p")


def test_the_rule_that_keeps_tailwinds_base_off_reverts_the_base_layer_for_one_page_and_its_html() -> None:
    rule = without_tailwind_base("checkout")
    assert rule.startswith("/* The preview had no Tailwind")
    body = rule[rule.index("@layer base {") :]
    selectors, _, declarations = body.removeprefix("@layer base {").partition("{")
    assert [s.strip() for s in selectors.split(",")] == [
        'html:has([data-appgen-page="checkout"])',
        'html:has([data-appgen-page="checkout"]) body',
        '[data-appgen-page="checkout"]',
        '[data-appgen-page="checkout"] *',
        '[data-appgen-page="checkout"] ::before',
        '[data-appgen-page="checkout"] ::after',
        '[data-appgen-page="checkout"] ::marker',
        '[data-appgen-page="checkout"] ::placeholder',
        '[data-appgen-page="checkout"] ::backdrop',
        '[data-appgen-page="checkout"] ::file-selector-button',
    ]
    assert declarations.split() == ["all:", "revert-layer;", "}", "}"]
    # Each beats preflight's own selectors (`*`, `html`, `::before`, `[hidden]…`) inside the same layer.
    assert min(specificity(s) for s in selectors.split(",")) >= (0, 1, 0)


def test_at_rules_that_are_not_style_rules_stay_outside_layers() -> None:
    css = "@import url(x.css);\n@font-face { font-family: A; src: url(a.woff2) }\n.a { color: red }"
    out = layer_page_css(css, TAILWIND_BEFORE)
    assert out.startswith("@import url(x.css);\n@font-face { font-family: A; src: url(a.woff2) }")
    assert out.endswith("@layer utilities {\n  .a { color: red }\n}\n")
    assert layer_page_css(css, UNLAYERED) == css
    assert "@layer components" in layer_page_css(".a{x:y} /* } */ .b{x:y}", TAILWIND_AFTER)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (".a", (0, 1, 0)),
        ("nav a:hover", (0, 1, 2)),
        ("#x .y", (1, 1, 0)),
        (":where(.a .b) p", (0, 0, 1)),
        (".a, .b .c", (0, 2, 0)),
        ("input[type=text]::placeholder", (0, 1, 2)),
    ],
)
def test_specificity(selector: str, expected: tuple[int, int, int]) -> None:
    assert specificity(selector) == expected
