"""The spec's two validators agree: `appgen/spec.py` (the HTTP API) and `app_generation_spec_problems`
(what `submit_job` checks in SQL, for callers that reach the RPC straight through Supabase's REST API).

Both read their limits from the policy, so the cases below sit on each limit: at it both accept, one past
it both refuse, and the database names the field path the API would. Every spec the API accepts is stored
in its normalised form (`GenerationSpec.to_json()`), which the database must accept too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from appgen import errors
from appgen.policy import POLICY
from appgen.settings import REPO_ROOT
from appgen.spec import parse_spec
from tests.fixtures.specs import small_spec

Spec = dict[str, Any]


def _set(path: str, value: Any) -> Callable[[Spec], None]:
    """Sets `value` at a dotted path (`pages.1.route`); `...` removes the key instead."""

    def change(spec: Spec) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is ...:
            del node[key]
        else:
            node[key] = value

    return change


def _pages(count: int, html_bytes: int = 100, **page: Any) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        spec["pages"] = [
            {
                "pageId": f"p{i}",
                "route": f"/p{i}",
                "name": "P",
                "selectedPreviewHtml": "x" * html_bytes,
                **page,
            }
            for i in range(count)
        ]

    return change


def _total_html(total: int) -> Callable[[Spec], None]:
    """Pages of at most the per-page limit whose previews add up to `total` bytes."""

    def change(spec: Spec) -> None:
        sizes = []
        while total - sum(sizes) > 0:
            sizes.append(min(POLICY.max_preview_html_bytes, total - sum(sizes)))
        _pages(len(sizes))(spec)
        for page, size in zip(spec["pages"], sizes, strict=True):
            page["selectedPreviewHtml"] = "x" * size

    return change


P = POLICY
SLUG, ROUTE = P.slug_pattern, P.route_pattern
# (name, change, the path the database names or None when both accept)
CASES: list[tuple[str, Callable[[Spec], None], str | None]] = [
    ("valid", lambda spec: None, None),
    ("title at its limit", _set("brief.title", "t" * P.max_title_chars), None),
    ("title past it", _set("brief.title", "t" * (P.max_title_chars + 1)), "brief.title"),
    ("title of whitespace only", _set("brief.title", "\u3000\u00a0\t"), "brief.title"),
    ("title with spaces around (the API strips them)", _set("brief.title", "  Shop "), None),
    ("no brief", _set("brief", ...), "brief"),
    ("details at the note limit", _set("brief.details", "d" * P.max_note_chars), None),
    ("details past it", _set("brief.details", "d" * (P.max_note_chars + 1)), "brief.details"),
    ("audience past the text limit", _set("brief.audience", "a" * (P.max_text_chars + 1)), "brief.audience"),
    ("goals not a string", _set("brief.goals", 3), "brief.goals"),
    ("unknown field in the brief", _set("brief.tone", "calm"), "brief.tone"),
    ("unknown top-level field", _set("unexpected", 1), "unexpected"),
    ("projectId not a uuid", _set("projectId", "project-1"), "projectId"),
    ("projectId of 32 digits", _set("projectId", "a0eebc999c0b4ef8bb6d6bb9bd380a11"), None),
    ("no projectId", _set("projectId", ...), "projectId"),
    ("style name past the name limit", _set("style.name", "s" * (P.max_name_chars + 1)), "style.name"),
    ("style notes past the note limit", _set("style.notes", "n" * (P.max_note_chars + 1)), "style.notes"),
    ("palette at its limit", _set("style.palette", ["#000"] * P.max_palette_entries), None),
    ("palette past it", _set("style.palette", ["#000"] * (P.max_palette_entries + 1)), "style.palette"),
    ("palette colour at its limits", _set("style.palette.1", {"name": "n" * 40, "value": "v" * 60}), None),
    (
        "palette colour name past it",
        _set("style.palette.1", {"name": "n" * 41, "value": "v"}),
        "style.palette[1].name",
    ),
    ("palette colour without value", _set("style.palette.1", {"name": "brand"}), "style.palette[1].value"),
    ("palette string past the colour limit", _set("style.palette.0", "c" * 61), "style.palette[0]"),
    ("typography past its limit", _set("style.typography", ["Inter"] * 9), "style.typography"),
    ("font at its limits", _set("style.typography.0", {"role": "r" * 40, "family": "f" * 100}), None),
    (
        "font family past it",
        _set("style.typography.0", {"role": "body", "family": "f" * 101}),
        "style.typography[0].family",
    ),
    ("font name past the name limit", _set("style.typography.0", "f" * 101), "style.typography[0]"),
    ("global notes past the note limit", _set("globalNotes", "g" * (P.max_note_chars + 1)), "globalNotes"),
    ("no pages", _set("pages", []), "pages"),
    ("pages at their limit", _pages(P.max_pages), None),
    ("pages past it", _pages(P.max_pages + 1), "pages"),
    ("page id at its length", _set("pages.1.pageId", "p" * 40), None),
    ("page id past it", _set("pages.1.pageId", "p" * 41), "pages[1].pageId"),
    ("page id starting with a digit", _set("pages.1.pageId", "1st"), "pages[1].pageId"),
    ("page id with an underscore", _set("pages.1.pageId", "my_page"), "pages[1].pageId"),
    ("page id with a trailing newline", _set("pages.1.pageId", "page\n"), None),
    ("page id used twice", _set("pages.1.pageId", "home"), "pages[1].pageId"),
    ("route of five segments", _set("pages.1.route", "/a/b/c/d/e"), None),
    ("route of six", _set("pages.1.route", "/a/b/c/d/e/f"), "pages[1].route"),
    ("route with a trailing slash", _set("pages.1.route", "/a/"), "pages[1].route"),
    ("route in capitals", _set("pages.1.route", "/About"), "pages[1].route"),
    ("dynamic route", _set("pages.1.route", "/blog/[slug]"), "pages[1].route"),
    ("route under /api", _set("pages.1.route", "/api/x"), "pages[1].route"),
    ("route /lib", _set("pages.1.route", "/lib"), "pages[1].route"),
    ("route /apis (not reserved)", _set("pages.1.route", "/apis"), None),
    ("route used twice", _set("pages.1.route", "/"), "pages[1].route"),
    ("page name missing", _set("pages.1.name", ...), "pages[1].name"),
    ("page name blank", _set("pages.1.name", "\u2003"), "pages[1].name"),
    ("page name past the name limit", _set("pages.1.name", "n" * 101), "pages[1].name"),
    ("page notes past the note limit", _set("pages.1.notes", "n" * 4001), "pages[1].notes"),
    ("preview at its limit", _pages(1, P.max_preview_html_bytes), None),
    ("preview past it", _pages(1, P.max_preview_html_bytes + 1), "pages[0].selectedPreviewHtml"),
    (
        "preview past it in UTF-8 bytes",
        _set("pages.0.selectedPreviewHtml", "é" * (P.max_preview_html_bytes // 2 + 1)),
        "pages[0].selectedPreviewHtml",
    ),
    ("blank preview", _set("pages.0.selectedPreviewHtml", " \n"), "pages[0].selectedPreviewHtml"),
    ("previews at the total limit", _total_html(P.max_total_preview_html_bytes), None),
    ("previews past it", _total_html(P.max_total_preview_html_bytes + 1), "pages"),
    ("actions at their limit", _set("pages.0.actions", [f"a{i}" for i in range(10)]), None),
    ("actions past it", _set("pages.0.actions", [f"a{i}" for i in range(11)]), "pages[0].actions"),
    ("actions repeated", _set("pages.0.actions", ["signup", "signup"]), "pages[0].actions"),
    ("action not a slug", _set("pages.0.actions", ["Sign up"]), "pages[0].actions[0]"),
    ("tree node at its limit", _set("pages.0.treeNode", {"a": "x" * 19991}), None),
    ("tree node past it", _set("pages.0.treeNode", {"a": "x" * 19992}), "pages[0].treeNode"),
    ("tree node at its limit, non-ASCII", _set("pages.0.treeNode", {"label": "ü" * 3331}), None),
    ("tree node past it, non-ASCII", _set("pages.0.treeNode", {"label": "ü" * 3332}), "pages[0].treeNode"),
    ("tree node past it, beyond U+FFFF", _set("pages.0.treeNode", {"e": "😀" * 1667}), "pages[0].treeNode"),
    (
        "tree node of every JSON kind",
        _set("pages.0.treeNode", {"id": 1, "x": 1.5, "ok": True, "no": None, "kids": [{"a": []}]}),
        None,
    ),
    ("tree node not an object", _set("pages.0.treeNode", ["a"]), "pages[0].treeNode"),
    ("unknown field in a page", _set("pages.0.component", "Hero"), "pages[0].component"),
]


@pytest.fixture(scope="module")
def problems(pg_cluster: Any) -> Any:
    """app_generation_spec_problems on the migrated template database (read-only)."""
    with psycopg.connect(pg_cluster.dsn("appgen_template"), autocommit=True) as conn:

        def check(spec: Any) -> list[str]:
            rows = conn.execute(
                "select path from public.app_generation_spec_problems(%s)", (Jsonb(spec),)
            ).fetchall()
            return [row[0] for row in rows]

        yield check


# The API strips whitespace around every string before it checks and stores the spec; the database checks
# what it is given, so the same value sent straight to the RPC with its whitespace is refused there.
STRIPPED_BY_THE_API = {"page id with a trailing newline": "pages[1].pageId"}


@pytest.mark.parametrize(("name", "change", "path"), CASES, ids=[n for n, _, _ in CASES])
def test_the_database_refuses_exactly_what_the_api_refuses(
    problems: Callable[[Any], list[str]], name: str, change: Callable[[Spec], None], path: str | None
) -> None:
    body = small_spec(2)
    change(body)
    try:
        stored = parse_spec(body).to_json()
    except errors.InvalidSpec as exc:
        assert path is not None, f"the API refused a spec the case expects to pass: {exc.details}"
        assert path in problems(body), exc.details
        return
    assert path is None, f"the API accepted a spec the database should refuse at {path}"
    assert problems(stored) == []
    if name in STRIPPED_BY_THE_API:
        assert problems(body) == [STRIPPED_BY_THE_API[name]]
    else:
        assert problems(body) == []


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "examples" / "specs").glob("*.json")), ids=lambda p: p.name
)
def test_every_example_spec_passes_both(problems: Callable[[Any], list[str]], path: Path) -> None:
    body = json.loads(path.read_text())
    assert problems(parse_spec(body).to_json()) == []
    assert problems(body) == []
