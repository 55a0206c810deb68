"""Helpers shared by the API tests: the services the WSGI app runs on (a real database, the in-memory
dispatcher so nothing runs in the background), tokens, and driving a job to `completed` as workers would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from appgen.dispatch import InMemoryDispatcher
from appgen.gateway import Caller, ControlPlane, Dispatch
from appgen.services import Services
from appgen.settings import LOCAL_JWT_SECRET, Settings
from appgen.storage import LocalObjectStore
from tests.conftest import token_for

JOBS = "/api/agentic/jobs"
CHECKSUM = "c" * 64


def make_services(control_plane: ControlPlane, tmp_path: Path, **settings: Any) -> Services:
    config = Settings(
        database_url="unused",
        data_dir=tmp_path,
        internal_secret="s" * 32,
        jwt_secret=LOCAL_JWT_SECRET,
        cors_origins=("https://app.example.com",),
        **settings,
    )
    store = LocalObjectStore(tmp_path / "objects", "http://testserver", config.internal_secret)
    return Services(config, control_plane, InMemoryDispatcher(), store, store)


def auth_headers(caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(caller)}"}


def complete_job(services: Services, job_id: UUID | str) -> None:
    """Start a submitted job and run every task it dispatches to the end, as the worker would (with a real
    ZIP in the object store, so the signed URL works)."""
    plane = services.control_plane
    queue: list[Dispatch] = plane.start_job(UUID(str(job_id)))
    while queue:
        dispatch = queue.pop(0)
        assert dispatch.task_id is not None
        task = plane.claim_task(dispatch.task_id, 60)
        assert task is not None, f"{dispatch.kind} could not be claimed"
        if task.kind == "package":
            path = f"{task.owner_id}/{task.project_id}/{task.job_id}/app.zip"
            source = services.settings.data_dir / f"{task.job_id}.zip"
            source.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
            services.artifacts.upload("generated-apps", path, source)
            plane.record_artifact(task.job_id, "generated-apps", path, source.stat().st_size, CHECKSUM)
        result = {"outcome": "passed"} if task.kind == "validate" else {}
        queue.extend(plane.finish_task(task.task_id, task.attempt, result))


def execute(db_dsn: str, query: str, *params: object) -> None:
    """Run one statement on the test database directly, as its owner (to set up what RPCs cannot)."""
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute(query, params)


def expire_artifact(db_dsn: str, job_id: UUID | str) -> None:
    """Mark a job's artifact as deleted by retention (what `expire_old_artifacts` does to older jobs)."""
    execute(
        db_dsn,
        "update public.app_generation_artifacts set delete_requested_at = now() where job_id = %s",
        str(job_id),
    )


Change = tuple[str, Callable[[], object], Callable[[dict[str, Any]], bool]]


def job_object_changes(services: Services, job_id: str, db_dsn: str) -> list[Change]:
    """Changes of a queued job that its object shows, in an order they can happen in, each with what the
    status route must answer after it: (name, make the change, the new job object shows it)."""
    plane = services.control_plane
    return [
        (
            "a warning",
            lambda: plane.add_job_warning(UUID(job_id), "offline_model", "no model"),
            lambda job: job["warnings"] == [{"code": "offline_model", "message": "no model"}],
        ),
        (
            "every step and the artifact",
            lambda: complete_job(services, job_id),
            lambda job: job["status"] == "completed_with_warnings" and job["artifact"] is not None,
        ),
        ("retention", lambda: expire_artifact(db_dsn, job_id), lambda job: job["artifact"] is None),
    ]
