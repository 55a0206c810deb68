"""Tailwind 1-3 class names → Tailwind 4, for previews made with the Play CDN or a compiled v1-v3 stylesheet.

A kept table rather than `@tailwindcss/upgrade`: the codemod needs a project on disk (a config file, a
stylesheet, Node) and rewrites files in place, while the scaffold converts one class list at a time,
offline, inside the worker's Python. The entries follow Tailwind's v4 upgrade guide:

- renamed scales: `shadow` → `shadow-sm`, `shadow-sm` → `shadow-xs`, the same for `rounded`, `blur`,
  `backdrop-blur`, `drop-shadow`; `ring` (3 px in v3) → `ring-3`; `outline-none` → `outline-hidden`;
- renamed utilities: `flex-grow`/`flex-shrink` → `grow`/`shrink`, `overflow-ellipsis` → `text-ellipsis`,
  `decoration-slice`/`-clone` → `box-decoration-*`, v1's `whitespace-no-wrap` → `whitespace-nowrap`;
- `space-y-5`/`space-x-5` put their margin on every child but the first that is not `[hidden]` (v1-v3);
  v4 puts it on every child but the last, so a trailing `hidden` error message pushed a form's end down:
  they become the v3 selector as an arbitrary variant, `[&>:not([hidden])~:not([hidden])]:mt-5`;
- removed utilities with an exact v4 spelling: `bg-opacity-50` next to `bg-black` → `bg-black/50` (also
  `text-`, `border-`, `divide-`, `placeholder-`, `ring-opacity-*`), v1's `shadow-outline` and v2's
  `shadow-xs` → the same box-shadow as an arbitrary value.

Variants (`hover:`, `md:`, `dark:`…) and the important marker (`!`) are kept. What has no equivalent is
reported (`unknown_class` in the scaffold's warnings), never silently kept as a class with no CSS.

When the preview names its Tailwind's major version (the Play CDN is v3, a compiled stylesheet's URL says
`tailwindcss@2.2.19`), the classes mean what they meant in that version:

- v1's names (`whitespace-no-wrap`, `shadow-outline`, `flex-no-wrap`) had no CSS in v2 and v3: the preview
  showed them unstyled, so they are dropped, not translated;
- v2's compiled stylesheet has the v2 default palette: `gray`, `red`, `yellow`, `green`, `blue`, `indigo`,
  `purple`, `pink`, whose `yellow`, `green` and `purple` are v3/v4's `amber`, `emerald` and `violet`
  (Tailwind's v3 upgrade guide), and no other colour: `bg-orange-100` had no CSS and is dropped.
"""

from __future__ import annotations

import re

# Exact renames of a whole utility (after its variants).
_RENAMED = {
    "shadow": "shadow-sm",
    "shadow-sm": "shadow-xs",
    "shadow-xs": "shadow-[0_0_0_1px_rgba(0,0,0,0.05)]",
    "drop-shadow": "drop-shadow-sm",
    "drop-shadow-sm": "drop-shadow-xs",
    "blur": "blur-sm",
    "blur-sm": "blur-xs",
    "backdrop-blur": "backdrop-blur-sm",
    "backdrop-blur-sm": "backdrop-blur-xs",
    "ring": "ring-3",
    "outline-none": "outline-hidden",
    "flex-grow": "grow",
    "flex-grow-0": "grow-0",
    "flex-shrink": "shrink",
    "flex-shrink-0": "shrink-0",
    "overflow-ellipsis": "text-ellipsis",
    "decoration-slice": "box-decoration-slice",
    "decoration-clone": "box-decoration-clone",
    "whitespace-no-wrap": "whitespace-nowrap",
}
# v1 names v2 renamed or removed: translated for v1 (or an unknown version), dropped for v2 and v3.
_V1_ONLY = {
    "whitespace-no-wrap": "whitespace-nowrap",
    "flex-no-wrap": "flex-nowrap",
    "shadow-outline": "shadow-[0_0_0_3px_rgba(66,153,225,0.5)]",
}
# Tailwind 2's default palette → the v4 colour of the same values; Tailwind 4's other palette names.
_V2_PALETTE = {"gray": "gray", "red": "red", "yellow": "amber", "green": "emerald", "blue": "blue"}
_V2_PALETTE |= {"indigo": "indigo", "purple": "violet", "pink": "pink"}
_V4_PALETTE = frozenset(
    {"slate", "gray", "zinc", "neutral", "stone", "red", "orange", "amber", "yellow", "lime", "green"}
    | {"emerald", "teal", "cyan", "sky", "blue", "indigo", "violet", "purple", "fuchsia", "pink", "rose"}
)
_COLOR_UTILITY = re.compile(
    r"(bg|text|border|divide|placeholder|ring|ring-offset|from|via|to)-([a-z]+)-(\d{2,3})"
)
_SPACE = re.compile(r"(-?)space-([xy])-(?!reverse$)(.+)")
_SPACE_SIBLINGS = "[&>:not([hidden])~:not([hidden])]:"
_REVERSE = frozenset({"space-x-reverse", "space-y-reverse"})
# `rounded`, `rounded-t`, `rounded-tl`… : the unsized one was v3's 0.25 rem (v4's `-sm`), `-sm` → `-xs`.
_ROUNDED = re.compile(r"(rounded(?:-[trblse]{1,2})?)(-sm)?")
_OPACITY = re.compile(r"(bg|text|border|divide|placeholder|ring)-opacity-(\d+)")
# Color utilities an opacity class can attach to: `bg-red-500`, `text-white`, `border-brand`…
_NOT_COLORS = re.compile(
    r"(?:text|border|ring|divide)-(?:xs|sm|base|lg|xl|\dxl|left|center|right|justify|start|end|"
    r"\d+|[xytrbl]|[xytrbl]-\d+|solid|dashed|dotted|double|none|collapse|separate|opacity-\d+|inset|"
    r"offset-\d+|ellipsis|clip|wrap|nowrap|balance|pretty)$"
    r"|bg-(?:fixed|local|scroll|clip-.*|origin-.*|bottom|center|left.*|right.*|top|repeat.*|no-repeat|"
    r"auto|cover|contain|none|gradient-.*|opacity-\d+|blend-.*)$"
)


def translate_classes(classes: list[str], version: int | None = None) -> tuple[list[str], list[str]]:
    """(the Tailwind 4 classes, the classes dropped: no v4 equivalent, or no CSS in the preview's `version`
    of Tailwind, 1-3, None when unknown)."""
    dropped: list[str] = []
    out = []
    # With `space-y-reverse` the margin goes to the other side: such an element keeps v4's utility.
    reverse = {utility[6] for utility in (_parts(c)[2] for c in classes) if utility in _REVERSE}
    for cls in classes:
        renamed = _rename(cls, version, reverse)
        if renamed is None:
            dropped.append(cls)
        else:
            out.append(renamed)
    for index, cls in enumerate(out):
        variants, important, utility = _parts(cls)
        match = _OPACITY.fullmatch(utility)
        if not match:
            continue
        kind, amount = match.groups()
        out[index] = ""
        same = _color_of(out, kind, variants)
        base = _color_of(out, kind, "", with_alpha=True)
        if same is not None:
            out[same] = f"{out[same]}/{amount}"
        elif base is not None:  # `bg-black hover:bg-opacity-50` → `hover:bg-black/50`
            color = _parts(out[base])[2].split("/")[0]
            out.append(f"{variants}{important}{color}/{amount}")
        else:
            dropped.append(cls)
    return [c for c in out if c], dropped


def _color_of(classes: list[str], kind: str, variants: str, *, with_alpha: bool = False) -> int | None:
    for i, other in enumerate(classes):
        if other and _is_color(other, kind, variants) and (with_alpha or "/" not in _parts(other)[2]):
            return i
    return None


def _rename(cls: str, version: int | None, reverse: set[str]) -> str | None:
    """The v4 name of a class, or None when it had no CSS in the preview's version."""
    variants, important, utility = _parts(cls)
    if utility in _V1_ONLY:
        if version in (2, 3):
            return None
        utility = _V1_ONLY[utility]
    elif version == 2 and (color := _COLOR_UTILITY.fullmatch(utility)):
        kind, name, shade = color.groups()
        if name in _V2_PALETTE:
            utility = f"{kind}-{_V2_PALETTE[name]}-{shade}"
        elif name in _V4_PALETTE:
            return None
    elif (space := _SPACE.fullmatch(utility)) and space.group(2) not in reverse:
        sign, axis, size = space.groups()
        return f"{variants}{_SPACE_SIBLINGS}{important}{sign}{'mt' if axis == 'y' else 'ml'}-{size}"
    elif utility in _RENAMED:
        utility = _RENAMED[utility]
    else:
        match = _ROUNDED.fullmatch(utility)
        if match:
            utility = match.group(1) + ("-xs" if match.group(2) else "-sm")
    return variants + important + utility


def _parts(cls: str) -> tuple[str, str, str]:
    """`md:hover:!bg-red-500` → ("md:hover:", "!", "bg-red-500"); brackets may hold colons."""
    depth, cut = 0, 0
    for i, ch in enumerate(cls):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ":" and depth == 0:
            cut = i + 1
    variants, rest = cls[:cut], cls[cut:]
    important = "!" if rest.startswith("!") else ""
    return variants, important, rest[len(important) :]


def _is_color(cls: str, kind: str, variants: str) -> bool:
    other_variants, _, utility = _parts(cls)
    prefix = "placeholder" if kind == "placeholder" else kind
    return (
        other_variants == variants
        and utility.startswith(prefix + "-")
        and not _OPACITY.fullmatch(utility)
        and not _NOT_COLORS.fullmatch(utility)
    )
