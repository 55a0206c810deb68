"""Tailwind 1-3 class names → Tailwind 4 (`appgen/scaffold/tailwind_compat.py`), meaning what they meant in
the preview's version of Tailwind: renamed scales, opacity utilities folded into the colour, v1 names, and
Tailwind 2's default palette."""

from __future__ import annotations

import pytest

from appgen.scaffold.html_to_jsx import convert_document
from appgen.scaffold.tailwind_compat import translate_classes


def test_renamed_scales_and_utilities_keep_their_variants_and_important_marker() -> None:
    classes = ["shadow", "md:shadow-sm", "rounded", "rounded-t-sm", "!flex-grow", "hover:outline-none"]
    assert translate_classes(classes) == (
        ["shadow-sm", "md:shadow-xs", "rounded-sm", "rounded-t-xs", "!grow", "hover:outline-hidden"],
        [],
    )


def test_space_between_keeps_v3s_selector_so_a_trailing_hidden_child_adds_no_gap() -> None:
    # v4's `space-y-5` margins every child but the last: a hidden error message after a form's button
    # would push the form's end down by the gap; v1-v3 margined every child after the first instead.
    out, dropped = translate_classes(["space-y-5", "md:-space-x-px", "!space-x-[3px]"])
    assert out == [
        "[&>:not([hidden])~:not([hidden])]:mt-5",
        "md:[&>:not([hidden])~:not([hidden])]:-ml-px",
        "[&>:not([hidden])~:not([hidden])]:!ml-[3px]",
    ]
    assert dropped == []
    # Reversed, the v3 margin was on the other side: the element keeps v4's utility.
    assert translate_classes(["space-y-4", "space-y-reverse", "space-x-2"])[0] == [
        "space-y-4",
        "space-y-reverse",
        "[&>:not([hidden])~:not([hidden])]:ml-2",
    ]


def test_an_opacity_utility_folds_into_its_colour_or_is_dropped_without_one() -> None:
    assert translate_classes(["bg-black", "bg-opacity-50"]) == (["bg-black/50"], [])
    assert translate_classes(["bg-black", "hover:bg-opacity-50"]) == (["bg-black", "hover:bg-black/50"], [])
    assert translate_classes(["text-opacity-75"]) == ([], ["text-opacity-75"])


@pytest.mark.parametrize("version", [None, 1])
def test_v1_names_are_translated_for_tailwind_1_or_an_unknown_version(version: int | None) -> None:
    out, dropped = translate_classes(["whitespace-no-wrap", "flex-no-wrap", "focus:shadow-outline"], version)
    assert out == ["whitespace-nowrap", "flex-nowrap", "focus:shadow-[0_0_0_3px_rgba(66,153,225,0.5)]"]
    assert dropped == []


@pytest.mark.parametrize("version", [2, 3])
def test_v1_names_had_no_css_in_tailwind_2_and_3_so_they_are_dropped(version: int) -> None:
    # A table that wrapped in the preview (no `white-space: nowrap`) must not overflow in the app.
    assert translate_classes(["w-full", "whitespace-no-wrap"], version) == (
        ["w-full"],
        ["whitespace-no-wrap"],
    )


def test_tailwind_2_colours_become_the_v4_colours_of_the_same_values() -> None:
    classes = ["bg-purple-600", "hover:text-green-500", "border-yellow-300", "bg-gray-50", "from-pink-400"]
    out, dropped = translate_classes(classes, 2)
    assert out == [
        "bg-violet-600",
        "hover:text-emerald-500",
        "border-amber-300",
        "bg-gray-50",
        "from-pink-400",
    ]
    assert dropped == []
    assert translate_classes(["bg-purple-600", "bg-opacity-50"], 2) == (["bg-violet-600/50"], [])


def test_colours_outside_tailwind_2s_default_palette_had_no_css_and_are_dropped() -> None:
    out, dropped = translate_classes(["text-orange-500", "bg-teal-100", "bg-brand-500", "text-white"], 2)
    assert out == ["bg-brand-500", "text-white"]  # a config's colour is not the palette's to judge
    assert dropped == ["text-orange-500", "bg-teal-100"]


def test_tailwind_3_keeps_its_colour_names() -> None:
    assert translate_classes(["bg-purple-600", "text-orange-500"], 3) == (
        ["bg-purple-600", "text-orange-500"],
        [],
    )


@pytest.mark.parametrize(
    ("head", "expected", "dropped"),
    [
        (
            '<link rel="stylesheet" href="https://unpkg.com/tailwindcss@2.2.19/dist/tailwind.min.css">',
            "bg-violet-600",
            ["text-orange-500", "whitespace-no-wrap"],
        ),
        (
            '<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/tailwindcss/1.9.6/tailwind.min.css">',
            "text-orange-500 bg-purple-600 whitespace-nowrap",
            [],
        ),
        (
            '<script src="https://cdn.tailwindcss.com"></script>',
            "text-orange-500 bg-purple-600",
            ["whitespace-no-wrap"],
        ),
    ],
)
def test_the_preview_names_its_tailwind_version_in_its_stylesheet_or_script(
    head: str, expected: str, dropped: list[str]
) -> None:
    html = f'<html><head>{head}</head><body><p class="text-orange-500 bg-purple-600 whitespace-no-wrap">x</p>'
    page = convert_document(html, page_id="p", component="P", resolve_link=lambda _: None)
    assert f'<p className="{expected}">' in page.tsx
    notices = [n.message for n in page.notices if n.code == "unknown_class"]
    assert [m.split("'")[1] for m in notices] == dropped
    assert all("had no CSS in the preview's Tailwind" in m for m in notices)
