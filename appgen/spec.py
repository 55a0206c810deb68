"""The `generation_spec` contract: what a frontend sends to start a job.

Field names on the wire are camelCase (as in the plan); Python attributes are snake_case. Every limit
is a named constant read from the policy (`appgen/policy.py`, the mirror of `app_generation_policy()`,
against which `submit_job` checks the same spec in SQL), so the README, the OpenAPI document, this
validator and the database cannot disagree. `parse_spec` turns a request body into a `GenerationSpec` or
an `InvalidSpec` error naming every failing field path (`pages[0].route`), refusing values Postgres
`jsonb` could not store.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from appgen import errors
from appgen.policy import POLICY

# Every limit is the policy's (app_generation_policy(), mirrored by appgen/policy.py), which submit_job
# checks in SQL too: a spec sent straight to the RPC meets the same rules.
MAX_PAGES = POLICY.max_pages
MAX_PREVIEW_HTML_BYTES = POLICY.max_preview_html_bytes
MAX_TOTAL_PREVIEW_HTML_BYTES = POLICY.max_total_preview_html_bytes
MAX_ACTIONS_PER_PAGE = POLICY.max_actions_per_page
MAX_PALETTE_ENTRIES = POLICY.max_palette_entries
MAX_TYPOGRAPHY_ENTRIES = POLICY.max_typography_entries
MAX_NOTE_CHARS = POLICY.max_note_chars
MAX_TEXT_CHARS = POLICY.max_text_chars
MAX_TITLE_CHARS = POLICY.max_title_chars
MAX_NAME_CHARS = POLICY.max_name_chars
MAX_LABEL_CHARS = POLICY.max_label_chars
MAX_COLOR_CHARS = POLICY.max_color_chars
MAX_TREE_NODE_BYTES = POLICY.max_tree_node_bytes

SLUG_PATTERN = POLICY.slug_pattern
ROUTE_PATTERN = POLICY.route_pattern
RESERVED_ROUTE_SEGMENTS = frozenset(POLICY.reserved_route_segments)

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
ShortText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Note = Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


class Brief(_Model):
    title: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE_CHARS)]
    details: Note = ""
    audience: ShortText = ""
    goals: ShortText = ""


class PaletteColor(_Model):
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LABEL_CHARS)]
    value: Annotated[str, StringConstraints(min_length=1, max_length=MAX_COLOR_CHARS)]


class FontChoice(_Model):
    role: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LABEL_CHARS)]
    family: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]


class Style(_Model):
    """Palette and typography entries are either plain strings ("#0f172a", "Inter") or named entries."""

    name: Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS)] = ""
    palette: list[PaletteColor | Annotated[str, StringConstraints(max_length=MAX_COLOR_CHARS)]] = Field(
        default_factory=list, max_length=MAX_PALETTE_ENTRIES
    )
    typography: list[FontChoice | Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS)]] = Field(
        default_factory=list, max_length=MAX_TYPOGRAPHY_ENTRIES
    )
    notes: Note = ""


class Page(_Model):
    page_id: Slug
    route: Annotated[str, StringConstraints(pattern=ROUTE_PATTERN)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
    tree_node: dict[str, Any] = Field(default_factory=dict)
    selected_preview_html: Annotated[str, StringConstraints(min_length=1)]
    actions: list[Slug] = Field(default_factory=list, max_length=MAX_ACTIONS_PER_PAGE)
    notes: Note = ""

    @field_validator("route")
    @classmethod
    def _route_not_reserved(cls, route: str) -> str:
        first = route.strip("/").split("/", 1)[0]
        if first in RESERVED_ROUTE_SEGMENTS:
            raise ValueError(f"route segment {first!r} is reserved by the generated app")
        return route

    @field_validator("selected_preview_html")
    @classmethod
    def _html_size(cls, html: str) -> str:
        size = len(html.encode())
        if size > MAX_PREVIEW_HTML_BYTES:
            raise ValueError(f"preview HTML is {size} bytes; at most {MAX_PREVIEW_HTML_BYTES} are allowed")
        return html

    @field_validator("tree_node")
    @classmethod
    def _tree_node_size(cls, node: dict[str, Any]) -> dict[str, Any]:
        import json

        if len(json.dumps(node)) > MAX_TREE_NODE_BYTES:
            raise ValueError(f"treeNode is larger than {MAX_TREE_NODE_BYTES} bytes")
        return node

    @field_validator("actions")
    @classmethod
    def _unique_actions(cls, actions: list[str]) -> list[str]:
        if len(set(actions)) != len(actions):
            raise ValueError("actions must be unique")
        return actions


class GenerationSpec(_Model):
    project_id: UUID
    brief: Brief
    style: Style = Field(default_factory=Style)
    global_notes: Note = ""
    pages: list[Page] = Field(min_length=1, max_length=MAX_PAGES)

    @model_validator(mode="after")
    def _pages_consistent(self) -> GenerationSpec:
        _require_unique([p.page_id for p in self.pages], "pageId")
        _require_unique([p.route for p in self.pages], "route")
        total = sum(len(p.selected_preview_html.encode()) for p in self.pages)
        if total > MAX_TOTAL_PREVIEW_HTML_BYTES:
            raise ValueError(
                f"preview HTML totals {total} bytes; at most {MAX_TOTAL_PREVIEW_HTML_BYTES} are allowed"
            )
        return self

    @property
    def actions(self) -> list[str]:
        """Every requested action once, in first-mention order."""
        return list(dict.fromkeys(a for p in self.pages for a in p.actions))

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _require_unique(values: list[str], field: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field} {value!r} is used by more than one page")
        seen.add(value)


def parse_spec(body: Any) -> GenerationSpec:
    """The validated spec, or InvalidSpec naming every failing field path."""
    if not isinstance(body, dict):
        raise errors.InvalidSpec("the request body must be a JSON object (the generation_spec)")
    unstorable = list(_unstorable(body))
    if unstorable:
        raise errors.InvalidSpec(details=unstorable)
    try:
        return GenerationSpec.model_validate(body)
    except ValidationError as exc:
        details = [{"path": field_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise errors.InvalidSpec(details=details) from None


def field_path(loc: tuple[int | str, ...]) -> str:
    """pydantic's location as a path a frontend developer can read: `pages[0].route`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("str", "PaletteColor", "FontChoice") or "[" in str(part):
            continue  # union member names pydantic adds to locations
        else:
            path += f".{part}" if path else str(part)
    return path or "(body)"


def _unstorable(body: Any) -> list[dict[str, str]]:
    """Values JSON allows but Postgres `jsonb` cannot store (NUL characters, lone UTF-16 surrogates,
    NaN/Infinity), as field-path details: refused here rather than failing inside the database."""
    found: list[dict[str, str]] = []
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), body)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if _bad_text(key):
                    found.append({"path": field_path(loc), "message": "a key holds an unstorable character"})
                stack.append(((*loc, key), child))
        elif isinstance(value, list):
            stack.extend(((*loc, i), child) for i, child in enumerate(value))
        elif isinstance(value, str) and _bad_text(value):
            found.append(
                {"path": field_path(loc), "message": "NUL characters and lone surrogates are not allowed"}
            )
        elif isinstance(value, float) and not math.isfinite(value):
            found.append({"path": field_path(loc), "message": "NaN and Infinity are not JSON numbers"})
    return sorted(found, key=lambda d: d["path"])


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def route_to_dir(route: str) -> str:
    """`/` → `app`, `/pricing/plans` → `app/pricing/plans`: where a page's `page.tsx` lives."""
    return "app" + route.rstrip("/") if route != "/" else "app"


def action_route_dir(action: str) -> str:
    return f"app/api/{action}"
