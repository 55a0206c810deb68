"""Previews are screenshot once per job: a later build (the gate's, the next validate step's on another
instance) renders only the built pages and gets the kept preview PNGs back; a changed preview or renderer
renders again; a failed preview shot is tried again. Counted with a builder that records what it was asked
to render (no timing), and through the remote builder's render request, which then names no preview and
accepts no preview screenshot back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from appgen.errors import StepFailed
from appgen.pipeline import build_protocol as protocol
from appgen.pipeline import preview_shots, render_request, snapshots
from appgen.pipeline.builder import BUILD, LINT, BuildRequest, BuildResult
from appgen.pipeline.context import StepContext
from appgen.pipeline.preview_shots import PreviewShots
from appgen.sandbox import CommandResult
from appgen.storage import LocalObjectStore
from appgen.visual import render
from tests.fixtures.tasks import validate_task

PAGES = (
    render.RenderPage("home", "<h1>Home</h1>", "index.html"),
    render.RenderPage("about", "<h1>About</h1>", "about.html"),
)
PREVIEWS = {render.shot_name(p.name, w, "preview") for p in PAGES for w in render.WIDTHS}
BUILT = {render.shot_name(p.name, w, "built") for p in PAGES for w in render.WIDTHS}


class CountingBuilder:
    """Builds nothing; screenshots what it is asked to, each PNG saying which render took it."""

    def __init__(self) -> None:
        self.requests: list[tuple[render.RenderPage, ...]] = []
        self.fail_preview: str | None = None  # a preview shot name this builder fails to take

    def build(self, request: BuildRequest) -> BuildResult:
        self.requests.append(request.render)
        n = len(self.requests)
        images, errors = {}, {}
        for name in render.shot_names(request.render):
            if name == self.fail_preview:
                errors[name] = "timed out"
            else:
                images[name] = render.PNG_SIGNATURE + f"{name} render {n}".encode()
        ok = CommandResult(BUILD, 0, "", 1.0)
        return BuildResult(None, ok, CommandResult(LINT, 0, "", 1.0), shots=render.Shots(images, errors))

    def previews_rendered(self) -> list[int]:
        return [sum(p.preview_html is not None for p in pages) for pages in self.requests]


@pytest.fixture
def builder() -> CountingBuilder:
    return CountingBuilder()


@pytest.fixture
def job_id() -> uuid.UUID:
    return uuid.uuid4()


def _ctx(tmp_path: Path, builder: CountingBuilder, job_id: uuid.UUID, step: str) -> StepContext:
    """A validate step's context on its own working directory, over the job's (local) scratch store."""
    task = validate_task(job_id)
    services = SimpleNamespace(
        builder=builder,
        scratch=LocalObjectStore(tmp_path / "objects", "http://testserver", "s" * 32),
        control_plane=SimpleNamespace(job_is_active=lambda _job: True),
    )
    workdir = tmp_path / step
    workdir.mkdir()
    return StepContext(task, cast(Any, None), cast(Any, services), workdir)


def test_the_second_build_of_a_step_renders_no_preview_and_still_has_both_sides(
    tmp_path: Path, builder: CountingBuilder, job_id: uuid.UUID
) -> None:
    previews = PreviewShots(_ctx(tmp_path, builder, job_id, "validate-0"))
    first = previews.build(tmp_path / "ws", PAGES)
    second = previews.build(tmp_path / "ws", PAGES)
    assert builder.previews_rendered() == [2, 0]
    assert [p.built_file for p in builder.requests[1]] == ["index.html", "about.html"]
    assert set(second.shots.images) == PREVIEWS | BUILT and second.shots.errors == {}
    for name in PREVIEWS:  # the kept PNGs, taken by the first render
        assert second.shots.images[name] == first.shots.images[name]
        assert second.shots.images[name].endswith(b"render 1")
    for name in BUILT:
        assert second.shots.images[name].endswith(b"render 2")


def test_a_later_validate_step_on_another_instance_renders_only_the_built_pages(
    tmp_path: Path, builder: CountingBuilder, job_id: uuid.UUID
) -> None:
    PreviewShots(_ctx(tmp_path, builder, job_id, "validate-0")).build(tmp_path / "ws", PAGES)
    later = PreviewShots(_ctx(tmp_path, builder, job_id, "validate-1"))  # a fresh workdir: only scratch
    result = later.build(tmp_path / "ws", PAGES)
    assert builder.previews_rendered() == [2, 0]
    assert set(result.shots.images) == PREVIEWS | BUILT


def test_another_jobs_previews_are_not_reused(tmp_path: Path, builder: CountingBuilder) -> None:
    PreviewShots(_ctx(tmp_path, builder, uuid.uuid4(), "a")).build(tmp_path / "ws", PAGES)
    PreviewShots(_ctx(tmp_path, builder, uuid.uuid4(), "b")).build(tmp_path / "ws", PAGES)
    assert builder.previews_rendered() == [2, 2]


def test_a_changed_preview_or_renderer_is_rendered_again(
    tmp_path: Path, builder: CountingBuilder, job_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    previews = PreviewShots(_ctx(tmp_path, builder, job_id, "validate-0"))
    previews.build(tmp_path / "ws", PAGES)
    changed = (render.RenderPage("home", "<h1>Home, changed</h1>", "index.html"), PAGES[1])
    previews.build(tmp_path / "ws", changed)
    assert [p.name for p in builder.requests[1] if p.preview_html is not None] == ["home"]
    monkeypatch.setattr(render, "RENDERER_VERSION", "another-renderer")
    previews.build(tmp_path / "ws", changed)
    assert builder.previews_rendered() == [2, 1, 2]


def test_a_preview_shot_that_failed_is_taken_again_next_time(
    tmp_path: Path, builder: CountingBuilder, job_id: uuid.UUID
) -> None:
    previews = PreviewShots(_ctx(tmp_path, builder, job_id, "validate-0"))
    builder.fail_preview = render.shot_name("home", "mobile", "preview")
    first = previews.build(tmp_path / "ws", PAGES)
    assert first.shots.errors == {builder.fail_preview: "timed out"}
    builder.fail_preview = None
    second = previews.build(tmp_path / "ws", PAGES)
    assert [p.name for p in builder.requests[1] if p.preview_html is not None] == ["home"]
    assert set(second.shots.images) == PREVIEWS | BUILT and second.shots.errors == {}
    third = previews.build(tmp_path / "ws", PAGES)
    assert builder.previews_rendered() == [2, 1, 0]
    assert third.shots.images[render.shot_name("home", "mobile", "preview")].endswith(b"render 2")


def test_a_failed_build_gets_no_kept_previews(tmp_path: Path, job_id: uuid.UUID) -> None:
    class Failing(CountingBuilder):
        def build(self, request: BuildRequest) -> BuildResult:
            self.requests.append(request.render)
            return BuildResult(None, CommandResult(BUILD, 1, "error", 1.0))

    ok, failing = CountingBuilder(), Failing()
    PreviewShots(_ctx(tmp_path, ok, job_id, "a")).build(tmp_path / "ws", PAGES)
    result = PreviewShots(_ctx(tmp_path, failing, job_id, "b")).build(tmp_path / "ws", PAGES)
    assert result.shots == render.Shots() and failing.previews_rendered() == [0]


def test_keys_differ_by_page_width_preview_and_renderer() -> None:
    home = PAGES[0]
    keys = {preview_shots.shot_key(p, w) for p in PAGES for w in render.WIDTHS}
    assert len(keys) == 4
    same_html = render.RenderPage("about", home.preview_html, "about.html")
    assert preview_shots.shot_key(same_html, "desktop") != preview_shots.shot_key(home, "desktop")


def test_the_remote_builders_request_names_no_kept_preview_and_its_answer_may_hold_none(
    tmp_path: Path,
) -> None:
    """What goes over the wire when the previews are kept: the builder service is asked for the built
    pages only (`"preview": null`), and a preview screenshot in its answer is refused as not asked for."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "package.json").write_text("{}")
    kept = tuple(render.RenderPage(p.name, None, p.built_file) for p in PAGES)
    archive = render_request.pack_snapshot(ws, tmp_path / "snapshot.tar.gz", kept)
    unpacked = tmp_path / "builder-side"
    snapshots.unpack(archive, unpacked)
    sent = json.loads((unpacked / render_request.RENDER_MEMBER).read_text())
    assert [p["preview"] for p in sent["pages"]] == [None, None]
    assert render_request.take_render_request(unpacked) == kept
    assert render.shot_names(kept) == BUILT

    png = "iVBORw0KGgo="  # the PNG signature in base64
    ok = {"argv": list(BUILD), "exitCode": 0, "output": "", "durationS": 1.0}
    lint = {**ok, "argv": list(LINT)}
    answer = {"install": None, "build": ok, "lint": lint, "pages": {}}
    built = {"result": {**answer, "shots": {n: png for n in BUILT}, "shotErrors": {}}}
    assert set(protocol.decode_answer(json.dumps(built).encode(), "test", kept).shots.images) == BUILT
    preview = render.shot_name("home", "desktop", "preview")
    extra = {"result": {**answer, "shots": {preview: png}, "shotErrors": {}}}
    with pytest.raises(StepFailed, match="which was not asked for"):
        protocol.decode_answer(json.dumps(extra).encode(), "test", kept)
