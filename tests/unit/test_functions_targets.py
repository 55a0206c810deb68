"""The Functions Framework targets as the framework itself serves them (its own Flask app and routing):
paths Flask cannot route still get a JSON 404, and each internal target answers only its own path (the
local stack serves all three on one port).

The internal targets run on services whose control plane records every RPC and answers with no rows:
enough for a delivery to run end to end, and proof that a refused one ran nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from appgen import services as services_module
from appgen.auth import mint_internal_token
from appgen.dispatch import InMemoryDispatcher
from appgen.gateway import Caller, ControlPlane, Row, RpcTransport
from appgen.localstack.server import create_app
from appgen.services import Services
from appgen.settings import LOCAL_JWT_SECRET, REPO_ROOT, Settings
from appgen.storage import LocalObjectStore

FUNCTIONS = str(REPO_ROOT / "functions" / "main.py")
WORKER = str(REPO_ROOT / "worker_container" / "main.py")
SECRET = "s" * 32


@dataclass(frozen=True)
class Target:
    source: str
    path: str  # the only path it serves
    payload: dict[str, str]
    answer: dict[str, Any]  # its answer when every RPC returns no rows
    rpcs: list[str]  # the RPCs that answer needed


NOTHING_SWEPT = {
    "deadlines": {"started": 0},
    "redelivered": {"tasks": 0, "starts": 0},
    "retention": {"deleted": 0, "failed": 0},
    "scratch": {"cleared": 0, "failed": 0},
}
INTERNAL = {
    "orchestrate": Target(
        FUNCTIONS,
        "/internal/orchestrate",
        {"jobId": str(uuid.uuid4())},
        {"outcome": "started"},
        ["start_job"],
    ),
    "cleanup": Target(
        FUNCTIONS,
        "/internal/cleanup",
        {},
        NOTHING_SWEPT,
        ["fail_overdue_jobs", "redispatch_owed_tasks", "list_artifacts_to_delete", "list_scratch_to_clear"],
    ),
    "run_task": Target(
        WORKER, "/internal/worker", {"taskId": str(uuid.uuid4())}, {"outcome": "noop"}, ["claim_task"]
    ),
}
OTHER_PATHS = ["/internal/orchestrate", "/internal/cleanup", "/internal/worker", "/internal/nowhere"]


class RecordingTransport(RpcTransport):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def call(self, function: str, args: dict[str, Any], caller: Caller) -> list[Row]:
        self.calls.append(function)
        return []


@pytest.fixture
def transport(tmp_path: Path) -> Iterator[RecordingTransport]:
    """Installed as the process's services, as the targets find them; logging restored afterwards (the
    worker's module configures it on import)."""
    recording = RecordingTransport()
    settings = Settings(
        data_dir=tmp_path,
        internal_secret=SECRET,
        jwt_secret=LOCAL_JWT_SECRET,
        work_dir=tmp_path / "work",
        gemini_api_key="test-gemini-key",
    )
    store = LocalObjectStore(tmp_path / "objects", "http://testserver", SECRET)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    services_module.install(Services(settings, ControlPlane(recording), InMemoryDispatcher(), store, store))
    try:
        yield recording
    finally:
        services_module.install(None)
        root.handlers[:], root.level = handlers, level


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_internal_token(SECRET)}"}


@pytest.mark.parametrize("target", ["api", "status", "logs"])
@pytest.mark.usefixtures("transport")
def test_paths_flask_cannot_route_still_get_a_json_404(target: str) -> None:
    client = functions_framework.create_app(target=target, source=FUNCTIONS).test_client()
    response = client.get("/api/agentic/jobs/abc%0A/logs")
    assert response.status_code == 404
    assert response.content_type == "application/json"
    assert response.json == {"error": {"code": "not_found", "message": "no such route"}}


def test_the_worker_target_answers_paths_flask_cannot_route_in_json_too(
    transport: RecordingTransport,
) -> None:
    client = functions_framework.create_app(target="run_task", source=WORKER).test_client()
    response = client.post("/internal/worker%0A", headers=_headers())
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "no such route"}}
    assert transport.calls == []


@pytest.mark.parametrize("target", list(INTERNAL))
def test_an_internal_target_answers_another_path_with_a_json_404_and_runs_nothing(
    target: str, transport: RecordingTransport
) -> None:
    served = INTERNAL[target]
    client = functions_framework.create_app(target=target, source=served.source).test_client()
    for path in [p for p in OTHER_PATHS if p != served.path]:
        response = client.post(path, json=served.payload, headers=_headers())
        assert response.status_code == 404, path
        assert response.json == {"error": {"code": "not_found", "message": f"no internal endpoint {path}"}}
    assert transport.calls == []


@pytest.mark.parametrize("target", list(INTERNAL))
def test_an_internal_target_still_serves_its_own_path(target: str, transport: RecordingTransport) -> None:
    served = INTERNAL[target]
    client = functions_framework.create_app(target=target, source=served.source).test_client()
    response = client.post(served.path, json=served.payload, headers=_headers())
    assert response.status_code == 200
    assert response.json == served.answer
    assert transport.calls == served.rpcs


def test_the_local_stack_serves_every_internal_path_on_one_port(transport: RecordingTransport) -> None:
    client = create_app(services_module.services).test_client()
    for target, served in INTERNAL.items():
        transport.calls.clear()
        response = client.post(served.path, json=served.payload, headers=_headers())
        assert (response.status_code, response.json) == (200, served.answer), target
        assert transport.calls == served.rpcs, target
