"""The worker and the builder service over real HTTP: the builder's Functions Framework app serving on a
local port (Google's certificates and the worker's metadata server played locally, tests/fixtures/google),
real bubblewrap boxes over the starter's real installed tree. Builds are tiny (a build script that writes
one prerendered page from what the box sees), so each costs about a second:

- RemoteBuilder gets the box's exit codes, output and pages back, and the builder keeps nothing;
- the pages it asks to render come back as screenshots that score as a local render's do (Chromium in a
  box of the builder; one page, 5-15 s), with the class names of the build's CSS in the same answer;
- a cancel, or the end of the job's time, stops the build inside the builder, not only the wait;
- a job runs through the worker chain (real scaffold, validate and package steps, a real control plane)
  with `APPGEN_BUILDER=remote`, its validate step building in the builder service.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import functions_framework
import psycopg
import pytest
from werkzeug.serving import make_server

from appgen import builder_service, jobs, worker
from appgen.cloud import oidc
from appgen.cloud.oidc import CachingRequest
from appgen.dispatch import InMemoryDispatcher
from appgen.errors import StepFailed
from appgen.gateway import Caller, ControlPlane
from appgen.pipeline import remote_builder, render_request
from appgen.pipeline.builder import BuildRequest, LocalBuilder
from appgen.pipeline.context import StepContext, StepOutcome
from appgen.pipeline.install_cache import InstallCache
from appgen.pipeline.remote_builder import RemoteBuilder
from appgen.pipeline.snapshots import SCAFFOLD, workspace_snapshot
from appgen.policy import ErrorCode
from appgen.settings import REPO_ROOT
from appgen.visual import render, score
from tests.e2e.stack import INSTALL_CACHE
from tests.fixtures.google import FakeGoogle, FakeMetadata
from tests.fixtures.specs import small_spec
from tests.fixtures.starters import BUILDER_AUDIENCE, STARTER, WORKER_SA, builder_env, starter_copy
from tests.fixtures.visual import BUILT, CSS, PREVIEW
from tests.fixtures.waiting import wait_for
from tests.integration.apitest import make_services

pytestmark = pytest.mark.e2e

BUILDER_MAIN = str(REPO_ROOT / "builder_container" / "main.py")
# What a build script sees, as a page: the installed `next` (the read-only tree) and the box's host name.
WRITES_A_PAGE = (
    "node -e \"const fs = require('fs'); fs.mkdirSync('.next/server/app', {recursive: true}); "
    "fs.writeFileSync('.next/server/app/index.html', '<h1>Built with next ' + "
    "require('next/package.json').version + ' on ' + require('os').hostname() + '</h1>')\""
)
TINY = {"build": WRITES_A_PAGE, "lint": "node -e \"console.log('lint ok')\""}
# A build that leaves the prerendered page and CSS of `tests/fixtures/visual.py`, if it cannot see the
# render request the snapshot carried.
COPIES_THE_DESIGN = (
    f"test ! -e {render_request.RENDER_MEMBER} && mkdir -p .next/server/app .next/static/css "
    "&& cp design/index.html .next/server/app/ && cp design/app.css .next/static/css/"
)


@dataclass
class RunningBuilder:
    url: str
    service: builder_service.BuilderService

    def is_idle(self) -> bool:
        """No build running and nothing left in its work dir."""
        if not self.service.busy.acquire(blocking=False):
            return False
        self.service.busy.release()
        work = self.service.settings.work_dir
        return not work.exists() or not any(work.iterdir())


@pytest.fixture(scope="module")
def starter_tree() -> Path:
    """The starter's tree in the e2e tests' shared install cache, installed once per machine."""
    cache = InstallCache(INSTALL_CACHE, 2048 * 1024 * 1024)
    local = LocalBuilder(starter_dir=STARTER, cache=cache)
    if not cache.has(local.starter_key):
        ws = INSTALL_CACHE.parent / f"appgen-test-install-{os.getpid()}"
        try:
            local.build(BuildRequest(_workspace(ws, {"build": "true"}), lambda limit: limit))
        finally:
            shutil.rmtree(ws, ignore_errors=True)
    assert cache.has(local.starter_key)
    return cache.trees / local.starter_key


@pytest.fixture
def builder(open_tmp: Path, starter_tree: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningBuilder]:
    """The builder service's target, served over HTTP on a local port, as the worker's token's audience."""
    monkeypatch.setattr(oidc, "_default", CachingRequest(FakeGoogle()))
    monkeypatch.setattr(remote_builder, "google_request", lambda: FakeMetadata(WORKER_SA))
    service = builder_service.create(builder_env(open_tmp / "builder", cache=INSTALL_CACHE))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # the target's module configures logging
    builder_service.install(service)
    server = make_server("127.0.0.1", 0, functions_framework.create_app(target="build", source=BUILDER_MAIN),
                         threaded=True)  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningBuilder(f"http://127.0.0.1:{server.port}", service)
    finally:
        server.shutdown()
        thread.join(10)
        builder_service.install(None)
        root.handlers[:], root.level = handlers, level


def _workspace(path: Path, scripts: dict[str, str]) -> Path:
    """A workspace of the starter (its lockfile, so the builder takes it) whose scripts are `scripts`."""
    ws = starter_copy(path)
    manifest = json.loads((ws / "package.json").read_text())
    (ws / "package.json").write_text(json.dumps({**manifest, "scripts": scripts}))
    return ws


def test_a_remote_build_returns_the_boxes_results_and_the_builder_keeps_nothing(
    builder: RunningBuilder, open_tmp: Path
) -> None:
    ws = _workspace(open_tmp / "ws", TINY)
    remote = RemoteBuilder(builder.url, BUILDER_AUDIENCE)

    result = remote.build(BuildRequest(ws, lambda limit: min(limit, 300.0)))

    assert result.install is None  # the image's tree, never an install
    assert result.build is not None and result.build.ok, result.build
    assert result.lint is not None and result.lint.ok and "lint ok" in result.lint.output
    (page,) = result.pages.values()
    assert list(result.pages) == ["index.html"]
    assert page.startswith("<h1>Built with next 16.") and page.endswith(" on box</h1>")  # bwrap's host name
    assert result.sandbox.startswith(f"builder service 127.0.0.1:{builder.url.rsplit(':', 1)[1]}")
    assert builder.is_idle()
    assert not (ws / ".next").exists()  # built there, not here


def test_a_remote_build_screenshots_its_pages_and_they_score_as_a_local_render_does(
    builder: RunningBuilder, open_tmp: Path
) -> None:
    """The design tests/integration/test_visual_render.py renders locally, built and rendered in the
    builder service instead: the same figures come back."""
    ws = _workspace(open_tmp / "ws", {"build": COPIES_THE_DESIGN})
    (ws / "design").mkdir()
    (ws / "design" / "index.html").write_text(BUILT)
    (ws / "design" / "app.css").write_text(CSS)
    home = render.RenderPage("home", PREVIEW, "index.html")

    result = RemoteBuilder(builder.url, BUILDER_AUDIENCE).build(
        BuildRequest(ws, lambda limit: min(limit, 300.0), render=(home,))
    )

    assert result.build is not None and result.build.ok, result.build  # it never saw the render request
    assert result.shots.errors == {} and set(result.shots.images) == render.shot_names([home])
    for width, (px, _) in render.WIDTHS.items():
        preview, built = result.shots.get("home", width, "preview"), result.shots.get("home", width, "built")
        assert preview is not None and built is not None
        assert score.load(built).width == px
        figures = score.compare(preview, built)
        assert figures.score > 0.9 and figures.diff_share < 0.05, (width, figures)
    # The same answer carries the class names of the CSS the build left, for `class_without_css`.
    assert result.stylesheet_classes == {"p-8", "t", "pic", "tall"}
    assert builder.is_idle()


@pytest.mark.parametrize("ending", ["cancel", "time"])
def test_a_cancel_or_the_end_of_the_jobs_time_stops_the_build_inside_the_builder(
    builder: RunningBuilder, open_tmp: Path, ending: str
) -> None:
    marker = f"appgen-remote-{ending}-{os.getpid()}"
    ws = _workspace(open_tmp / "ws", {"build": f"sleep 120 || {marker}"})
    started = time.monotonic()
    if ending == "cancel":
        request = BuildRequest(ws, lambda limit: limit, lambda: time.monotonic() - started > 3)
    else:
        request = BuildRequest(ws, lambda limit: min(limit, 3.0))

    with pytest.raises(StepFailed) as raised:
        RemoteBuilder(builder.url, BUILDER_AUDIENCE).build(request)

    expected = ErrorCode.CANCELLED if ending == "cancel" else ErrorCode.COMMAND_TIMEOUT
    assert raised.value.error_code == expected, raised.value.message
    assert time.monotonic() - started < 15
    wait_for(builder.is_idle, 20, "the builder to stop the build and remove its files")
    assert not _processes_running(marker)


def _processes_running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_job_validates_in_the_builder_service_with_a_remote_builder(
    builder: RunningBuilder,
    control_plane: ControlPlane,
    alice: Caller,
    db_dsn: str,
    open_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = make_services(
        control_plane,
        open_tmp,
        work_dir=open_tmp / "work",
        starter_dir=starter_copy(open_tmp / "starter", scripts=TINY),
        builder="remote",
        builder_url=builder.url,
        builder_audience=BUILDER_AUDIENCE,
        visual_fidelity=False,  # screenshots through the builder: the test above; here they would cost 20 s
    )
    assert isinstance(services.builder, RemoteBuilder)

    def no_agent(ctx: StepContext) -> StepOutcome:  # the agents are other tests' subject
        if ctx.task.kind == "integrate":
            ws = ctx.workdir / "ws"
            ctx.restore_snapshot(SCAFFOLD, ws)
            ctx.save_snapshot(ws, workspace_snapshot(0))
        return StepOutcome({})

    monkeypatch.setattr(worker, "STEPS", {**worker.STEPS, "page": no_agent, "integrate": no_agent})
    job_id, _ = control_plane.submit_job(alice, small_spec(pages=1), None)
    jobs.start(services, job_id)
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    for delivered in range(20):
        if delivered == len(dispatcher.messages):
            break
        worker.run_task(dispatcher.messages[delivered].payload["taskId"], services)

    job = control_plane.get_job(alice, job_id)
    logs = _log_text(db_dsn, job_id)
    assert job["status"] == "completed", (job, logs)
    assert job["artifact_size_bytes"] > 0
    assert "`npm run build` passed in" in logs and "(builder service 127.0.0.1:" in logs
    assert "`npm run lint` passed" in logs and "lint ok" in logs
    assert builder.is_idle()


def _log_text(db_dsn: str, job_id: UUID) -> str:
    with psycopg.connect(db_dsn) as conn:
        rows = conn.execute(
            "select message from app_generation_logs where job_id = %s order by id", (job_id,)
        ).fetchall()
    return "\n".join(row[0] for row in rows)
