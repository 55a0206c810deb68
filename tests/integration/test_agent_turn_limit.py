"""A page agent that runs out of turns: through the real worker chain (scaffold, then the page step), the
real Gemini CLI against the scripted Gemini API double and a real database, its edits so far are the
step's result, the step succeeds and the job carries an `agent_turn_limit` warning instead of failing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appgen import jobs, worker
from appgen.agents.runner import GeminiCliRunner
from appgen.agents.standin import GeminiStandIn, call
from appgen.dispatch import InMemoryDispatcher
from appgen.gateway import Caller, ControlPlane
from appgen.pipeline import snapshots
from appgen.services import Services
from appgen.storage import SCRATCH_BUCKET
from tests.fixtures.specs import small_spec
from tests.integration.apitest import make_services
from tests.integration.test_gemini_cli import installed_cli

PAGE = 'export default function Page() {\n  return <main data-appgen-page="home">Edited</main>;\n}\n'


@pytest.fixture
def double() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as standin:
        # Turn 1 writes the page; turn 2 looks around; the CLI stops there (max 2 turns) with exit 53.
        standin.on(
            "pageId: home",
            [
                call("write_file", {"file_path": "components/home/Page.tsx", "content": PAGE}),
                *[call("list_directory", {"dir_path": "."})] * 5,
            ],
        )
        yield standin


@pytest.fixture
def services(control_plane: ControlPlane, tmp_path: Path, double: GeminiStandIn) -> Services:
    built = make_services(control_plane, tmp_path, work_dir=tmp_path / "work", agent_max_turns=2)
    built._runner = GeminiCliRunner(
        gemini_bin=installed_cli(),
        model="gemini-2.5-pro",
        api_key="test-gemini-key",
        base_url=double.url,
        home_root=tmp_path / "homes",
        max_attempts=1,
    )
    return built


def test_a_page_agent_at_its_turn_limit_keeps_its_edits_with_a_warning(
    services: Services, control_plane: ControlPlane, alice: Caller, tmp_path: Path
) -> None:
    job_id, _ = control_plane.submit_job(alice, small_spec(pages=1), None)
    jobs.start(services, job_id)
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)

    outcomes = {}
    for message in list(dispatcher.messages):  # the scaffold task, which dispatches the page task
        outcomes[message.payload["kind"]] = worker.run_task(message.payload["taskId"], services)
    page = next(m for m in dispatcher.messages if m.payload.get("kind") == "page")
    outcomes["page"] = worker.run_task(page.payload["taskId"], services)

    assert outcomes == {"scaffold": "succeeded", "page": "succeeded"}
    job = control_plane.get_job(alice, job_id)
    assert job["status"] == "running" and job["error_code"] is None, job
    assert [w["code"] for w in job["warnings"]] == ["agent_turn_limit"]
    assert "the edits it had made are kept" in job["warnings"][0]["message"]
    # What the agent wrote before it ran out of turns is the page's bundle, which integration merges.
    archive = tmp_path / "bundle.tar.gz"
    key = snapshots.scratch_key(job_id, snapshots.page_bundle("home"))
    services.scratch.download(SCRATCH_BUCKET, key, archive)
    restored = tmp_path / "restored"
    assert snapshots.unpack(archive, restored) == ["components/home/Page.tsx"]
    assert (restored / "components/home/Page.tsx").read_text() == PAGE
    messages = [row["message"] for row in control_plane.list_job_logs(alice, job_id, 0, 100)]
    assert any("page:home agent stopped at its turn limit (2 turns)" in m for m in messages), messages
    # The next step is queued as after any page: the job goes on.
    assert any(m.payload.get("kind") == "integrate" for m in dispatcher.messages)
