"""The sweeps Cloud Scheduler runs (`cleanup`), against a real PostgreSQL and the local object store."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from appgen import sweepers
from appgen.dispatch import InMemoryDispatcher
from appgen.gateway import Caller, ControlPlane
from appgen.services import Services
from appgen.settings import Settings
from appgen.storage import LocalObjectStore
from tests.fixtures.specs import small_spec


@pytest.fixture
def services(control_plane: ControlPlane, tmp_path: Path) -> Services:
    settings = Settings(internal_secret="s" * 32)
    store = LocalObjectStore(tmp_path / "objects", "http://testserver", settings.internal_secret)
    return Services(settings, control_plane, InMemoryDispatcher(), store, store)


def test_overdue_jobs_fail_with_timeout_and_free_their_slot(
    services: Services, control_plane: ControlPlane, alice: Caller, db_dsn: str
) -> None:
    project = uuid.uuid4()
    jobs = [control_plane.submit_job(alice, small_spec(1, project), None)[0] for _ in range(3)]
    with psycopg.connect(db_dsn, autocommit=True) as conn:  # distinct submission order
        for minutes, job in zip((3, 2, 1), jobs, strict=True):
            conn.execute(
                "update app_generation_jobs set created_at = now() - make_interval(mins => %s) where id = %s",
                (minutes, job),
            )
    for job in jobs:
        control_plane.start_job(job)
    late, on_time, waiting = jobs
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute(
            "update app_generation_jobs set deadline_at = now() - interval '1 s' where id = %s", (late,)
        )

    report = sweepers.sweep(services)

    assert report["deadlines"] == {"started": 1}
    late_row = control_plane.get_job(alice, late)
    assert (late_row["status"], late_row["error_code"]) == ("failed", "timeout")
    assert "45-minute limit" in late_row["error_message"]
    assert control_plane.get_job(alice, on_time)["status"] == "running"
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    assert [(m.target, m.payload) for m in dispatcher.messages] == [("orchestrate", {"jobId": str(waiting)})]
    # Idempotent: a second sweep finds nothing to do.
    assert sweepers.sweep(services)["deadlines"] == {"started": 0}
