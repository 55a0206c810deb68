"""Class names a built page uses that no stylesheet defines (`class_without_css`): which selectors define a
class (escapes, pseudo-classes, `:where()`, not numbers or strings), which classes a page uses, and the
one warning message per job, counted per page with examples."""

from __future__ import annotations

from appgen.pipeline import unstyled

TAILWIND = r"""
@layer utilities{.flex{display:flex}.md\:hidden{@media (width>=48rem){display:none}}.w-1\/2{width:50%}
.\32 xl\:p-4{padding:1rem}.group-hover\:underline{&:is(:where(.group):hover *){text-decoration:underline}}
.bg-black\/50{background:url(data:image/png;base64,AAA) #0008}.hover\:bg-red-500:hover{color:red}}
@keyframes spin{12.5%{rotate:45deg}to{rotate:1turn}}
.icon::before{content:".not-a-class{"}/* .commented{} */
"""


def test_class_selectors_are_read_with_their_escapes_and_nothing_else() -> None:
    assert unstyled.defined_classes(TAILWIND) == {
        "flex",
        "md:hidden",
        "w-1/2",
        "2xl:p-4",
        "group-hover:underline",
        "group",
        "bg-black/50",
        "hover:bg-red-500",
        "icon",
    }


def test_a_page_reports_its_classes_without_css_in_the_order_they_appear() -> None:
    defined = unstyled.stylesheets_classes([TAILWIND, ".btn{color:red}"])
    html = (
        '<html><head><style>.own{color:red}</style></head><body><div data-appgen-page="home" class="flex">'
        '<p class="needs-validation  md:hidden form-input">x</p><svg class="own icon"></svg>'
        '<span class="form-input btn">y</span></div></body></html>'
    )
    assert unstyled.classes_without_css(html, defined) == (["needs-validation", "form-input"], 0)


def test_one_message_counts_per_page_with_ten_examples_and_notes_runtime_stylesheets() -> None:
    many = " ".join(f"c{n}" for n in range(12))
    pages = {
        "checkout": f'<link rel="stylesheet" href="https://cdn.example/x.css"><p class="{many} flex">x</p>',
        "home": '<p class="flex">all styled</p>',
        "about": '<p class="legacy-one">x</p>',
    }
    message = unstyled.report(pages, {"flex"})
    assert message == (
        "class names no stylesheet of the app defines (they style nothing): 12 on checkout (c0, c1, c2, c3, "
        "c4, c5, c6, c7, c8, c9, …; it loads 1 stylesheet(s) at run time that may define some); "
        "1 on about (legacy-one)"
    )
    assert unstyled.report({"home": pages["home"]}, {"flex"}) is None
    long = unstyled.report({f"p{n}": pages["checkout"] for n in range(20)}, set())
    assert long is not None and len(long) == unstyled.MAX_MESSAGE_CHARS and long.endswith("…")
