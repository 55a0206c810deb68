"""The fidelity gate through the real worker chain (scaffold, page, integrate, validate, package), the real
Gemini CLI against the scripted double, a real database, real builds and Chromium in the sandbox: an
integration agent that deletes most of the home page makes that page clearly worse than its scaffold; it
gets one repair turn, which deletes it again, so the page is reverted to the scaffold's version and the
job carries the warning `fidelity_reverted`. The ZIP holds the scaffold's page and the side-by-side images."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from appgen import jobs, worker
from appgen.agents.runner import GeminiCliRunner
from appgen.agents.standin import GeminiStandIn, call, text
from appgen.dispatch import InMemoryDispatcher
from appgen.gateway import Caller, ControlPlane
from appgen.pipeline import snapshots
from appgen.services import Services
from appgen.storage import ARTIFACT_BUCKET, SCRATCH_BUCKET
from tests.e2e.stack import INSTALL_CACHE
from tests.fixtures.specs import small_spec
from tests.integration.apitest import make_services
from tests.integration.test_gemini_cli import installed_cli

pytestmark = pytest.mark.e2e

PAGE = "components/home/Page.tsx"
GUTTED = 'export default function Page() {\n  return <main data-appgen-page="home">Hi</main>;\n}\n'


@pytest.fixture
def double() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as standin:
        gut = [call("write_file", {"file_path": PAGE, "content": GUTTED}), text("Done.")]
        standin.on("Task: repair the page", gut)
        standin.on("Task: integrate the app", gut)
        yield standin


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="appgen-test-gate-"))
    path.chmod(0o755)  # the sandbox's uid must enter the workspaces
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def services(control_plane: ControlPlane, root: Path, double: GeminiStandIn) -> Services:
    built = make_services(control_plane, root, work_dir=root / "work", npm_cache=INSTALL_CACHE)
    built._runner = GeminiCliRunner(
        gemini_bin=installed_cli(),
        model="gemini-2.5-pro",
        api_key="test-gemini-key",
        base_url=double.url,
        home_root=root / "homes",
        max_attempts=1,
    )
    return built


def test_a_page_an_agent_gutted_gets_one_repair_turn_then_is_reverted_with_a_warning(
    services: Services, control_plane: ControlPlane, alice: Caller, double: GeminiStandIn, root: Path
) -> None:
    job_id, _ = control_plane.submit_job(alice, small_spec(pages=1), None)
    jobs.start(services, job_id)
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    outcomes: list[tuple[str, str]] = []
    done: set[str] = set()
    while pending := [m for m in dispatcher.messages if m.payload.get("taskId") not in done]:
        for message in pending:
            done.add(message.payload.get("taskId"))
            if message.payload.get("taskId"):
                outcomes.append(
                    (message.payload["kind"], worker.run_task(message.payload["taskId"], services))
                )

    job = control_plane.get_job(alice, job_id)
    logs = "\n".join(line["message"] for line in control_plane.list_job_logs(alice, job_id, 0, 1000))
    assert job["status"] == "completed_with_warnings", (job, outcomes, logs[-4000:])
    assert [w["code"] for w in job["warnings"]] == ["fidelity_reverted"], job["warnings"]
    assert "home" in job["warnings"][0]["message"]
    assert "home is clearly below its scaffold" in logs and "one repair turn" in logs
    repair = [r.body for r in double.requests if "Task: repair the page" in json.dumps(r.body)]
    assert repair, "the repair agent never ran"
    assert "appgen-report/home-desktop.png" in json.dumps(repair[0])  # the side-by-side image it may read
    (fidelity,) = job["fidelity"]
    assert fidelity["pageId"] == "home" and fidelity["text"] >= 0.98, fidelity
    assert fidelity["visualDesktop"] >= 0.9 and fidelity["visualMobile"] >= 0.9, fidelity

    # The ZIP holds the scaffold's page, not the gutted one, and the side-by-side images.
    archive = root / "app.zip"
    location = control_plane.request_download(alice, job_id)
    services.artifacts.download(ARTIFACT_BUCKET, location.path, archive)
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as zipped:
        names = set(zipped.namelist())
        page = zipped.read(PAGE).decode()
        report = json.loads(zipped.read("appgen-report.json"))
    scaffold = root / "scaffold"
    services.scratch.download(
        SCRATCH_BUCKET, snapshots.scratch_key(UUID(str(job_id)), snapshots.SCAFFOLD), scaffold
    )
    restored = snapshots.unpack(scaffold, root / "scaffold-ws")
    assert PAGE in restored and page == (root / "scaffold-ws" / PAGE).read_text() != GUTTED
    assert {"appgen-report/home-desktop.png", "appgen-report/home-mobile.png"} <= names
    assert report["fidelity"][0]["visual"]["desktop"]["image"] == "appgen-report/home-desktop.png"
