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
from appgen.storage import SCRATCH_BUCKET, LocalObjectStore
from tests.fixtures.specs import small_spec
from tests.integration.apitest import execute, make_services


@pytest.fixture
def services(control_plane: ControlPlane, tmp_path: Path) -> Services:
    return make_services(control_plane, tmp_path)


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


def test_a_dead_workers_task_is_sent_again_under_a_new_name(
    services: Services, control_plane: ControlPlane, alice: Caller, db_dsn: str
) -> None:
    job, _ = control_plane.submit_job(alice, small_spec(1), None)
    (scaffold,) = control_plane.start_job(job)
    assert scaffold.task_id is not None
    claimed = control_plane.claim_task(scaffold.task_id, 60)
    assert claimed is not None and claimed.attempt == 1
    assert control_plane.renew_task_lease(scaffold.task_id, 1, 60) is True

    # Alive: nothing is owed. Then the worker dies and its lease lapses.
    assert sweepers.redispatch_owed_tasks(services) == {"tasks": 0, "starts": 0}
    execute(
        db_dsn,
        "update app_generation_tasks set lease_expires_at = now() - interval '1 s' where id = %s",
        scaffold.task_id,
    )
    assert sweepers.redispatch_owed_tasks(services) == {"tasks": 1, "starts": 0}
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    (message,) = dispatcher.messages
    assert message.name == f"task-{scaffold.task_id}-d0-r1"  # not the first delivery's name
    assert message.payload == {"taskId": str(scaffold.task_id), "jobId": str(job), "kind": "scaffold"}

    # The redelivery takes the task over; the dead attempt can neither renew nor finish it.
    again = control_plane.claim_task(scaffold.task_id, 60)
    assert again is not None and again.attempt == 2
    assert control_plane.renew_task_lease(scaffold.task_id, 1, 60) is False
    assert control_plane.finish_task(scaffold.task_id, 1, {}) == []
    assert sweepers.redispatch_owed_tasks(services) == {"tasks": 0, "starts": 0}


def test_lost_deliveries_and_lost_starts_are_sent_again_after_a_grace_period(
    services: Services, control_plane: ControlPlane, alice: Caller, db_dsn: str
) -> None:
    project = uuid.uuid4()
    running, _ = control_plane.submit_job(alice, small_spec(1, project), None)
    assert len(control_plane.start_job(running)) == 1  # dispatched, but the enqueue is "lost"
    queued, _ = control_plane.submit_job(alice, small_spec(1, project), None)  # its start is "lost"
    assert control_plane.redispatch_owed_tasks(grace_seconds=60) == []  # within the grace period

    execute(db_dsn, "update app_generation_tasks set dispatched_at = now() - interval '2 min'")
    execute(
        db_dsn, "update app_generation_jobs set created_at = now() - interval '2 min' where id = %s", queued
    )
    owed = control_plane.redispatch_owed_tasks(grace_seconds=60)
    assert sorted((d.kind, d.job_id, d.redelivery) for d in owed) == sorted(
        [("scaffold", running, 1), ("start", queued, 0)]
    )
    # Re-sent tasks wait a new grace period; the start is offered until the job starts.
    assert [d.kind for d in control_plane.redispatch_owed_tasks(grace_seconds=60)] == ["start"]
    control_plane.start_job(queued)
    assert control_plane.redispatch_owed_tasks(grace_seconds=60) == []
    # A cancelled job owes nothing.
    control_plane.cancel_job(alice, running)
    execute(db_dsn, "update app_generation_tasks set dispatched_at = now() - interval '1 h'")
    assert [d.job_id for d in control_plane.redispatch_owed_tasks(grace_seconds=60)] == [queued]


def test_scratch_of_ended_jobs_is_deleted_and_confirmed(
    services: Services, control_plane: ControlPlane, alice: Caller, db_dsn: str, tmp_path: Path
) -> None:
    project = uuid.uuid4()
    ended, _ = control_plane.submit_job(alice, small_spec(2, project), None)
    running, _ = control_plane.submit_job(alice, small_spec(1, project), None)
    control_plane.start_job(ended)
    control_plane.start_job(running)
    blob = tmp_path / "snapshot.tar.gz"
    blob.write_bytes(b"snapshot")
    names = [
        "scaffold.tar.gz",
        "preview-shots.tar.gz",
        "pages/home.tar.gz",
        "pages/page-1.tar.gz",
        "workspace-0.tar.gz",
    ]
    for job in (ended, running):
        for name in names:
            services.scratch.upload(SCRATCH_BUCKET, f"jobs/{job}/{name}", blob)
    control_plane.cancel_job(alice, ended)

    assert sweepers.clear_scratch(services) == {"cleared": 0, "failed": 0}  # a late worker may still write
    execute(
        db_dsn, "update app_generation_jobs set finished_at = now() - interval '2 min' where id = %s", ended
    )
    assert sweepers.clear_scratch(services) == {"cleared": 1, "failed": 0}

    store = services.scratch
    assert isinstance(store, LocalObjectStore)
    assert list((store.root / SCRATCH_BUCKET / "jobs" / str(ended)).rglob("*.tar.gz")) == []
    assert len(list((store.root / SCRATCH_BUCKET / "jobs" / str(running)).rglob("*.tar.gz"))) == len(names)
    assert sweepers.clear_scratch(services) == {"cleared": 0, "failed": 0}  # confirmed: not again
