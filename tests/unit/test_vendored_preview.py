"""The preview is screenshot with the stylesheet the app vendored: the renderer reaches no CDN, so each
vendored `<link>` of a preview becomes a `<style>` holding the copy, in its place. The copies come from the
scaffold's snapshot through the manifest the scaffold writes (not from the workspace agents edit), the
preview HTML is the same every round (its screenshot is kept by its hash), and it travels to the builder
service inside the render request."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from appgen.pipeline import fidelity, gate, render_request, snapshots
from appgen.pipeline.context import StepContext
from appgen.scaffold import scaffold_workspace
from appgen.scaffold.vendor import MANIFEST, FetchedStylesheet, inline_vendored, read_vendored
from appgen.settings import REPO_ROOT
from appgen.spec import GenerationSpec
from appgen.storage import LocalObjectStore
from appgen.visual import render
from tests.fixtures.specs import small_spec
from tests.fixtures.tasks import validate_task

STARTER = REPO_ROOT / "worker_container" / "starter"
THEME = "https://cdn.example.org/theme/css/theme.css"
OTHER = "https://cdn.example.org/other.css"
THEME_CSS = ".brand{color:rgb(255,0,0);background:url(bg.png)}"
PREVIEW = (
    "<!doctype html><html><head><title>Home</title>\n"
    f'<link rel="stylesheet" href="{THEME}">\n'
    "<style>.brand{font-weight:700}</style>\n"
    f'<link rel="stylesheet" href="{OTHER}">\n'
    '</head><body><h1 class="brand">Welcome</h1></body></html>'
)


def _spec(*previews: str) -> GenerationSpec:
    raw = small_spec(pages=len(previews))
    for page, html in zip(raw["pages"], previews, strict=True):
        page["selectedPreviewHtml"] = html
    return GenerationSpec.model_validate(raw)


def _scaffold(ws: Path, spec: GenerationSpec) -> None:
    fetched = {
        THEME: FetchedStylesheet(THEME, THEME, THEME_CSS),
        OTHER: FetchedStylesheet(OTHER, OTHER, reason="answered 404"),
    }
    scaffold_workspace(spec, ws, starter_dir=STARTER, stylesheets=fetched)


# -- the HTML -------------------------------------------------------------------------------------------
def test_a_vendored_link_becomes_a_style_in_its_place_and_the_others_stay() -> None:
    html, used = inline_vendored(PREVIEW, {THEME: ".brand{color:red}"}, 1000)
    assert html == PREVIEW.replace(
        f'<link rel="stylesheet" href="{THEME}">', "<style>.brand{color:red}</style>"
    )
    assert used == len(json.dumps(".brand{color:red}"))
    # the cascade keeps its order: the copy, then the preview's own rule, then the link not vendored
    assert html.index(".brand{color:red}") < html.index("font-weight") < html.index(OTHER)


def test_only_applied_stylesheet_links_of_the_document_are_inlined_and_the_copy_cannot_end_its_style() -> (
    None
):
    html = (
        f"<head><!-- <link rel=stylesheet href={THEME}> -->\n"
        f"<script>var s = '<link rel=stylesheet href={THEME}>'</script>\n"
        f'<link rel="alternate stylesheet" href="{THEME}"><link rel="preload" href="{THEME}">\n'
        f'<link REL="Stylesheet" href=" {THEME} " media="print &amp; x"/></head>'
    )
    out, _ = inline_vendored(html, {THEME: "a::after{content:'</style><b>'}"}, 1000)
    kept = html.rsplit("\n", 1)[0]
    assert out.startswith(kept + "\n")  # comment, script, alternate and preload untouched
    assert out.endswith("<style media=\"print &amp; x\">a::after{content:'<\\/style><b>'}</style></head>")


def test_copies_beyond_the_room_keep_their_link_in_page_order(monkeypatch: pytest.MonkeyPatch) -> None:
    css = "a{}" * 10
    spec = _spec(PREVIEW, PREVIEW.replace("Welcome", "Second"))
    assert all(THEME not in (p.preview_html or "") for p in fidelity.render_request(spec, {THEME: css}))
    monkeypatch.setattr(fidelity, "MAX_INLINED_BYTES", len(json.dumps(css)))  # room for one copy
    first, second = fidelity.render_request(spec, {THEME: css})
    assert first.preview_html is not None and THEME not in first.preview_html
    assert second.preview_html == spec.pages[1].selected_preview_html
    unchanged = [
        render.RenderPage(p.page_id, p.selected_preview_html, fidelity.built_file(p)) for p in spec.pages
    ]
    assert fidelity.render_request(spec) == tuple(unchanged)


# -- the scaffold's record ------------------------------------------------------------------------------
def test_the_scaffold_records_which_href_each_copy_stands_for(tmp_path: Path) -> None:
    _scaffold(tmp_path / "ws", _spec(PREVIEW))
    recorded = json.loads((tmp_path / "ws" / MANIFEST).read_text())
    assert list(recorded) == [THEME]
    assert recorded[THEME].startswith("public/vendor/") and recorded[THEME].endswith("-theme.css")
    copies = read_vendored(tmp_path / "ws")
    assert copies == {
        THEME: '.brand{color:rgb(255,0,0);background:url("https://cdn.example.org/theme/css/bg.png")}'
    }
    (tmp_path / "ws" / recorded[THEME]).write_text(".brand{color:blue}")  # no longer its name's content
    assert read_vendored(tmp_path / "ws") == {}


def test_without_vendoring_there_is_no_record(tmp_path: Path) -> None:
    scaffold_workspace(_spec(PREVIEW), tmp_path / "ws", starter_dir=STARTER)
    assert not (tmp_path / "ws" / MANIFEST).exists() and read_vendored(tmp_path / "ws") == {}


# -- the validate step's render request -----------------------------------------------------------------
def _ctx(tmp_path: Path, spec: GenerationSpec, job_id: uuid.UUID, step: str) -> StepContext:
    task = validate_task(job_id)
    services = SimpleNamespace(
        scratch=LocalObjectStore(tmp_path / "objects", "http://testserver", "s" * 32),
        settings=SimpleNamespace(visual_fidelity=True),
    )
    workdir = tmp_path / step
    workdir.mkdir()
    return StepContext(task, spec, cast(Any, services), workdir)


def test_the_previews_to_render_hold_the_scaffolds_copy_every_round_whatever_the_agents_did(
    tmp_path: Path,
) -> None:
    spec, job_id = _spec(PREVIEW), uuid.uuid4()
    ws = tmp_path / "ws"
    _scaffold(ws, spec)
    scaffold_step = _ctx(tmp_path, spec, job_id, "scaffold")
    scaffold_step.save_snapshot(ws, snapshots.SCAFFOLD)
    copy = ws / json.loads((ws / MANIFEST).read_text())[THEME]
    copy.write_text(".brand{color:blue}")  # an agent edits the workspace's copy later on

    (home,) = gate.pages_to_render(_ctx(tmp_path, spec, job_id, "validate-0"))
    assert home.preview_html is not None
    assert "<style>.brand{color:rgb(255,0,0);" in home.preview_html and THEME not in home.preview_html
    assert OTHER in home.preview_html and "color:blue" not in home.preview_html
    later = _ctx(tmp_path, spec, job_id, "validate-1")  # another instance: only the scratch store
    assert gate.pages_to_render(later) == (home,) == gate.pages_to_render(later)  # same preview hash

    # the builder service gets the same preview in the render request the snapshot carries
    archive = render_request.pack_snapshot(ws, tmp_path / "snapshot.tar.gz", (home,))
    received = tmp_path / "builder-side"
    snapshots.unpack(archive, received)
    assert render_request.take_render_request(received) == (home,)


def test_a_spec_whose_previews_link_nothing_to_vendor_never_restores_the_scaffold(tmp_path: Path) -> None:
    spec = _spec(PREVIEW.replace(THEME, "/local.css").replace(OTHER, "css/x.css"))
    ctx = _ctx(tmp_path, spec, uuid.uuid4(), "validate-0")  # no scaffold snapshot in scratch at all
    (home,) = gate.pages_to_render(ctx)
    assert home.preview_html == spec.pages[0].selected_preview_html
    assert not (ctx.workdir / "scaffold-vendored").exists()
