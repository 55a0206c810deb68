"""Alpine.js toggles → React client components (issue 13), each pattern from a minimal snippet: the page
renders the component, the component holds the state and handlers, and what cannot convert stays static
with an `alpine_not_converted` notice naming the element."""

from __future__ import annotations

import pytest

from appgen.scaffold.alpine import grammar
from appgen.scaffold.alpine import scope as alpine
from appgen.scaffold.html_to_jsx import ConvertedPage, convert_document


def convert(body: str, head: str = "<title>T</title>", html_attrs: str = "") -> ConvertedPage:
    html = f"<!doctype html><html lang='en' {html_attrs}><head>{head}</head><body>{body}</body></html>"
    return convert_document(html, page_id="p", component="PPage", resolve_link=lambda _: None)


def flat(tsx: str) -> str:
    return " ".join(line.strip() for line in tsx.splitlines())


def missing(text: str, fragments: list[str]) -> list[str]:
    return [fragment for fragment in fragments if fragment not in text]


def codes(page: ConvertedPage) -> list[str]:
    return [n.code for n in page.notices]


def alpine_notices(page: ConvertedPage) -> list[str]:
    return [n.message for n in page.notices if n.code == "alpine_not_converted"]


DROPDOWN = """<nav class="p-4"><div class="relative" x-data="{ open: false }">
  <button class="btn" @click="open = !open" :aria-expanded="open">Menu</button>
  <ul class="absolute mt-2" x-show="open" @click.away="open = false" @keydown.escape="open = false">
    <li>One</li>
  </ul>
</div></nav>"""


def test_a_dropdown_becomes_a_client_component_the_page_renders() -> None:
    page = convert(DROPDOWN)
    assert set(page.components) == {"AlpineDiv.tsx", "alpine.ts"}
    assert page.tsx.startswith('import AlpineDiv from "./AlpineDiv";\n')
    assert '<nav className="p-4"> <AlpineDiv /> </nav>' in flat(page.tsx)
    assert "use client" not in page.tsx  # the page stays a server component
    component = page.components["AlpineDiv.tsx"]
    assert component.startswith('"use client";\n\nimport { useState } from "react";\n')
    assert 'import { useClickAway } from "./alpine";' in component
    body = flat(component)
    assert not missing(
        body,
        [
            "export default function AlpineDiv() {",
            "const [open, setOpen] = useState(false);",
            "const awayRef = useClickAway(() => setOpen(false));",
            '<div className="relative">',
            '<button className="btn" aria-expanded={open} onClick={() => setOpen(!open)}>Menu</button>',
            'style={open ? undefined : { display: "none" }}',
            "ref={awayRef}",
            'onKeyDown={(event) => { if (event.key === "Escape") { setOpen(false); } }}',
        ],
    )
    assert "x-" not in component and "@click" not in component
    assert "useClickAway" in page.components["alpine.ts"]
    assert page.notices == []


def test_tabs_with_a_string_field_compare_and_set_it() -> None:
    page = convert(
        """<div x-data="{ tab: 'one' }">
          <button :class="{ 'font-bold border-b': tab === 'one' }" class="px-2" @click.prevent="tab = 'one'">1</button>
          <button :class="tab == 'two' ? 'font-bold' : 'font-normal'" @click="tab = 'two'">2</button>
          <section x-show="tab === 'one'">First</section>
          <section x-show="tab !== 'one'" x-cloak>Second</section>
        </div>"""
    )
    body = flat(page.components["AlpineDiv.tsx"])
    assert not missing(
        body,
        [
            'const [tab, setTab] = useState("one");',
            'className={`px-2${(tab === "one") ? " font-bold border-b" : ""}`}',
            'onClick={(event) => { event.preventDefault(); setTab("one"); }}',
            'className={`${tab === "two" ? "font-bold" : "font-normal"}`}',
            '<section style={(tab === "one") ? undefined : { display: "none" }}>First</section>',
            '<section style={(tab !== "one") ? undefined : { display: "none" }}>Second</section>',
        ],
    )
    assert page.notices == []


def test_a_modal_closes_on_escape_anywhere_and_on_its_backdrop() -> None:
    page = convert(
        """<div x-data="{ isOpen: false }">
          <button @click="isOpen = true">Open</button>
          <div class="fixed inset-0 bg-black/50" style="z-index: 40" x-show="isOpen"
               @click.self="isOpen = false" @keydown.escape.window="isOpen = false">
            <div role="dialog"><button @click="isOpen = false">Close</button></div>
          </div>
        </div>"""
    )
    component = page.components["AlpineDiv.tsx"]
    body = flat(component)
    assert 'import { type CSSProperties, useState } from "react";' in component
    assert 'useWindowKey("Escape", () => setIsOpen(false));' in body
    assert (
        'style={{ ...({ zIndex: "40" } as CSSProperties), ...(isOpen ? {} : { display: "none" }) }}' in body
    )
    assert "onClick={(event) => { if (event.target === event.currentTarget) { setIsOpen(false); } }}" in body
    assert 'import { useWindowKey } from "./alpine";' in component


def test_nested_accordion_items_get_their_own_state_in_one_component() -> None:
    page = convert(
        """<div x-data="{}" class="divide-y">
          <div x-data="{ open: true }"><button @click="open = !open">A</button><p x-show="open">a</p></div>
          <div x-data="{ open: false }"><button @click="open = !open">B</button><p x-show="open">b</p></div>
        </div>"""
    )
    body = flat(page.components["AlpineDiv.tsx"])
    assert "const [open, setOpen] = useState(true);" in body
    assert "const [open2, setOpen2] = useState(false);" in body
    assert "onClick={() => setOpen2(!open2)}" in body
    assert '<p style={open2 ? undefined : { display: "none" }}>b</p>' in body


def test_a_template_x_if_renders_its_content_while_the_condition_holds() -> None:
    page = convert(
        """<div x-data="{ shown: false }"><button @click="shown = !shown">More</button>
        <template x-if="shown"><p class="mt-2">Details</p></template></div>"""
    )
    body = flat(page.components["AlpineDiv.tsx"])
    assert '{shown ? ( <p className="mt-2">Details</p> ) : null}' in body
    assert "dropped_element" not in codes(page)


def test_a_data_function_with_toggle_and_close_methods_converts_like_windmill() -> None:
    script = """<script>
    function data() {
      function helper() { return window.localStorage.getItem('dark') }
      return {
        dark: helper(),
        isMenuOpen: false,
        toggleMenu() {
          this.isMenuOpen = !this.isMenuOpen
        },
        closeMenu() {
          this.isMenuOpen = false
          this.trapCleanup()
        },
        trapCleanup: null,
      }
    }
    </script>"""
    page = convert(
        """<div class="flex" :class="{ 'overflow-hidden': isMenuOpen }">
          <button @click="toggleMenu">Menu</button>
          <aside x-show="isMenuOpen" @click.away="closeMenu">Side</aside>
          <button @click="dark = !dark">Theme</button>
        </div>""",
        head=script,
        html_attrs='x-data="data()"',
    )
    assert list(page.components) == ["alpine.ts", "AlpinePage.tsx"]
    assert flat(page.tsx).endswith("return ( <AlpinePage /> ); }")
    body = flat(page.components["AlpinePage.tsx"])
    assert not missing(
        body,
        [
            "const [isMenuOpen, setIsMenuOpen] = useState(false);",
            "const toggleMenu = () => setIsMenuOpen(!isMenuOpen);",
            "const closeMenu = () => setIsMenuOpen(false);",
            "const awayRef = useClickAway(closeMenu);",
            '<div data-appgen-page="p">',
            'className={`flex${isMenuOpen ? " overflow-hidden" : ""}`}',
            "<button onClick={toggleMenu}>Menu</button>",
            "<button>Theme</button>",
        ],
    )
    assert "trapCleanup" not in body and "dark" not in body
    notices = alpine_notices(page)
    assert len(notices) == 2, notices
    assert notices[0].startswith("<html>: closeMenu() converted without `this.trapCleanup()`")
    assert notices[1] == "<button> @click='dark = !dark' not converted: `dark` has no literal initial value"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('<div x-data="dropdown(1)"><p x-show="open">x</p></div>', "not an object literal or a call"),
        ('<div x-data="menu()"><p x-show="open">x</p></div>', "no `function menu() { return {…} }`"),
        (
            '<div x-data="{ open: false }"><button @click="$dispatch(\'open\')">o</button>'
            '<p x-show="open">x</p></div>',
            "nothing that changes its state converts",
        ),
    ],
    ids=["arguments", "unknown function", "no state change"],
)
def test_a_component_that_cannot_convert_stays_static_with_a_notice_naming_it(body: str, reason: str) -> None:
    page = convert(body)
    assert page.components == {}
    assert '<p style={{ display: "none" } as CSSProperties}>x</p>' in flat(page.tsx)  # starts hidden
    notices = alpine_notices(page)
    assert len(notices) == 1 and notices[0].startswith("<div>") and reason in notices[0], notices
    assert "static_behaviour" in codes(page) and "dropped_attribute" in codes(page)


def test_directives_outside_the_grammar_stay_static_and_are_named_one_by_one() -> None:
    page = convert(
        """<div x-data="{ open: false, query: '' }" id="search">
          <button @click="open = !open">Filter</button>
          <input class="field" x-model="query" x-ref="box">
          <ul x-show="open"><template x-for="item in items"><li x-text="item"></li></template></ul>
          <p x-show="query.length > 0">Results</p>
        </div>"""
    )
    assert list(page.components) == ["AlpineSearch.tsx"]
    body = flat(page.components["AlpineSearch.tsx"])
    assert "const [open, setOpen] = useState(false);" in body
    assert "query" not in body.split("return (")[0]  # no unused state
    assert '<p style={{ display: "none" } as CSSProperties}>Results</p>' in body
    notices = alpine_notices(page)
    assert notices == [
        "<input class=\"field\"> x-model='query' not converted: x-model is not converted",
        "<input class=\"field\"> x-ref='box' not converted: x-ref is not converted",
        "<template> x-for='item in items' not converted: x-for is not converted",
        "<p> x-show='query.length > 0' not converted: `.length > 0` is outside the converted grammar",
    ]


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        ("open = label === 1", "compares values that are never equal"),
        ("open = !open; shown = open", "reads `open` after setting it"),
        ("count++", "outside the converted grammar"),
        ("toggle(1)", "outside the converted grammar"),
    ],
)
def test_handlers_outside_the_grammar_are_refused_with_the_reason(handler: str, reason: str) -> None:
    page = convert(
        f"""<div x-data="{{ open: false, shown: false, count: 0, label: 'a', toggle() {{ this.open = !this.open }} }}">
          <button @click="open = true">a</button><button @click="{handler}">b</button>
          <p x-show="open && shown">x {{count}}</p></div>"""
    )
    assert "AlpineDiv.tsx" in page.components
    assert any(reason in n for n in alpine_notices(page)), alpine_notices(page)


def test_the_grammar_translates_expressions_with_types() -> None:
    scope = alpine.read_scope("{ open: false, tab: 'a', n: 1, pick: null }", [])
    assert isinstance(scope, alpine.Scope)
    grammar.infer_types([scope], ["pick = 2"], this=False)
    names = alpine.Names([scope])
    assert grammar.expression("!open && (tab == 'b' || n === 1)", names)[:2] == (
        '!open && (tab === "b" || n === 1)',
        {"boolean"},
    )
    assert grammar.expression("tab && n", names)[1] is None  # a value only a condition may use
    assert grammar.expression("open ? 'x' : 'y'", names)[:2] == ('open ? "x" : "y"', {"string"})
    assert scope.fields["pick"].declaration() == "const [pick] = useState<null | number>(null);"
    with pytest.raises(alpine.Unsupported, match="never equal"):
        grammar.expression("open === 'a'", names)
    with pytest.raises(alpine.Unsupported, match=r"`\.x` is outside the converted grammar"):
        grammar.expression("$refs.x", names)
    with pytest.raises(alpine.Unsupported, match="`items` is not a field"):
        grammar.expression("items", names)
    with pytest.raises(alpine.Unsupported, match="assigns a string value to `open`"):
        grammar.statement("open = tab", names, alone=True)
    assert grammar.split_statements("a = 1; b = 2\nc = a\n  && b\nd()") == [
        "a = 1",
        "b = 2",
        "c = a\n  && b",
        "d()",
    ]


def test_alpine_data_registrations_are_read_too() -> None:
    script = (
        "document.addEventListener('alpine:init', () => { Alpine.data('menu', () => ({ open: false })) })"
    )
    scope = alpine.read_scope("menu", [script])
    assert isinstance(scope, alpine.Scope) and scope.fields["open"].initial is False
