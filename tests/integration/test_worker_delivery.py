"""At-least-once delivery through the real worker chain and control plane: every message delivered twice,
once after the other and at the same time, still runs each step once, fans in once and records one
artifact.

The pipeline steps are stand-ins that record their calls (npm and agents are not the subject here; the
end-to-end tests run them): what is under test is `worker.run_task`, the orchestrator and the RPCs."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from appgen import jobs, sweepers, worker
from appgen.dispatch import InMemoryDispatcher, TaskMessage
from appgen.errors import DependencyUnavailable
from appgen.gateway import Caller, ControlPlane
from appgen.pipeline import package as package_step
from appgen.pipeline.context import StepContext, StepOutcome
from appgen.services import Services
from appgen.storage import LocalObjectStore, StoredObject, sha256_file
from tests.conftest import user_claims
from tests.fixtures.specs import small_spec
from tests.fixtures.waiting import wait_for
from tests.integration.apitest import execute, make_services

CHECKSUM = "c" * 64


@pytest.fixture
def services(control_plane: ControlPlane, tmp_path: Path) -> Services:
    return make_services(control_plane, tmp_path, work_dir=tmp_path / "work", task_lease_s=1)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    recorded: list[tuple[str, str]] = []
    lock = threading.Lock()

    def stand_in(kind: str) -> Callable[[StepContext], StepOutcome]:
        def run(ctx: StepContext) -> StepOutcome:
            with lock:
                recorded.append((kind, ctx.task.key))
            if kind == "validate":
                return StepOutcome({"outcome": "passed"})
            if kind == "package":
                path = f"{ctx.task.owner_id}/{ctx.task.project_id}/{ctx.task.job_id}/app.zip"
                ctx.services.control_plane.record_artifact(
                    ctx.task.job_id, "generated-apps", path, 3, CHECKSUM
                )
            return StepOutcome({}, tokens_input=10, tokens_output=5)

        return run

    monkeypatch.setattr(worker, "STEPS", {kind: stand_in(kind) for kind in worker.STEPS})
    return recorded


def _deliver(services: Services, message: TaskMessage) -> None:
    if message.target == "orchestrate":
        jobs.start(services, message.payload["jobId"])
    else:
        worker.run_task(message.payload["taskId"], services)


@pytest.mark.parametrize("together", [False, True], ids=["one-after-the-other", "at-the-same-time"])
def test_every_message_delivered_twice_runs_each_step_once(
    services: Services,
    control_plane: ControlPlane,
    alice: Caller,
    calls: list[tuple[str, str]],
    together: bool,
) -> None:
    job_id, _ = control_plane.submit_job(alice, small_spec(pages=3), None)
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    jobs.start(services, job_id)

    delivered = 0
    while delivered < len(dispatcher.messages):
        message = dispatcher.messages[delivered]
        delivered += 1
        if together:
            threads = [threading.Thread(target=_deliver, args=(services, message)) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        else:
            _deliver(services, message)
            _deliver(services, message)

    job = control_plane.get_job(alice, job_id)
    assert job["status"] == "completed", job
    counts = Counter(calls)
    assert counts == {
        ("scaffold", ""): 1,
        ("page", "home"): 1,
        ("page", "page-1"): 1,
        ("page", "page-2"): 1,
        ("integrate", ""): 1,
        ("validate", "0"): 1,
        ("package", "0"): 1,
    }
    assert job["artifact_checksum"] == CHECKSUM
    # Token usage is summed once per step (the stand-in validate step reports none).
    assert (job["tokens_input"], job["tokens_output"]) == (10 * 6, 5 * 6)


def test_a_restarted_dispatcher_loses_no_job(
    services: Services, control_plane: ControlPlane, calls: list[tuple[str, str]], db_dsn: str
) -> None:
    """Five jobs in flight when the dispatcher restarts (everything it held is gone): the sweeps get
    what the database is still owed sent again (one sweep, once a lease has passed), and all five finish."""
    owners = [Caller.user(user_claims()) for _ in range(3)]
    job_ids = [control_plane.submit_job(owners[i % 3], small_spec(pages=2), None)[0] for i in range(5)]
    for job_id in job_ids:
        jobs.start(services, job_id)
    first = services.dispatcher
    assert isinstance(first, InMemoryDispatcher)
    for message in first.messages[:7]:  # some steps run, then the restart drops the rest
        _deliver(services, message)

    services.dispatcher = restarted = InMemoryDispatcher()
    _let_a_lease_pass(db_dsn)  # the grace a dispatched, unclaimed task gets before it counts as lost
    report = sweepers.sweep(services)
    assert report["redelivered"]["tasks"] > 0, report
    delivered = 0
    while delivered < len(restarted.messages):  # each step the resent ones lead to, as it is dispatched
        _deliver(services, restarted.messages[delivered])
        delivered += 1

    statuses = [control_plane.get_job(owners[i % 3], j)["status"] for i, j in enumerate(job_ids)]
    assert statuses == ["completed"] * 5
    assert Counter(kind for kind, _ in calls)["package"] == 5
    _let_a_lease_pass(db_dsn)
    assert sweepers.sweep(services)["redelivered"] == {"tasks": 0, "starts": 0}  # nothing is owed any more


def _let_a_lease_pass(db_dsn: str) -> None:
    """Age every time the recovery sweep compares (redispatch_owed_tasks: dispatched_at, not_before,
    lease_expires_at, a queued job's created_at) by a minute, as if the 1-second lease had passed many times
    over: the database's clock moves on without the test sleeping, so no timing can make it flake."""
    execute(
        db_dsn,
        "update app_generation_tasks set dispatched_at = dispatched_at - interval '1 min',"
        " not_before = not_before - interval '1 min', lease_expires_at = lease_expires_at - interval '1 min'",
    )
    execute(db_dsn, "update app_generation_jobs set created_at = created_at - interval '1 min'")


class FlakyStore(LocalObjectStore):
    """The local store, unavailable for its first `failures` uploads (as Supabase Storage in an outage)."""

    def __init__(self, root: Path, failures: int):
        super().__init__(root, "http://testserver", "s" * 32)
        self.failures = failures
        self.attempts = 0

    def upload(self, bucket: str, path: str, source: Path) -> StoredObject:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise DependencyUnavailable("the storage API answered 503")
        return super().upload(bucket, path, source)


def _run_with_real_package(
    services: Services,
    control_plane: ControlPlane,
    alice: Caller,
    db_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> UUID:
    """One job whose package step is the real one (over a minimal app); every retry is made due at once
    instead of after 20/60/180 s."""

    def package(ctx: StepContext) -> StepOutcome:
        app = ctx.workdir / "app"
        app.mkdir()
        for name in package_step.REQUIRED_FILES:
            (app / name).write_text("{}\n" if name == "package.json" else f"{name}\n")
        (app / "run-app.sh").chmod(0o755)
        stored = package_step.package_workspace(ctx, app)
        return StepOutcome({"sizeBytes": stored.size_bytes})

    steps = dict(worker.STEPS)
    steps["package"] = package
    monkeypatch.setattr(worker, "STEPS", steps)
    job_id, _ = control_plane.submit_job(alice, small_spec(pages=1), None)
    jobs.start(services, job_id)
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    delivered = 0
    while delivered < len(dispatcher.messages):
        with psycopg.connect(db_dsn, autocommit=True) as conn:
            conn.execute("update app_generation_tasks set not_before = null where job_id = %s", (job_id,))
        _deliver(services, dispatcher.messages[delivered])
        delivered += 1
    return job_id


def test_an_upload_failing_twice_is_retried_and_the_job_completes_with_one_object(
    services: Services,
    control_plane: ControlPlane,
    alice: Caller,
    db_dsn: str,
    tmp_path: Path,
    calls: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services.artifacts = store = FlakyStore(tmp_path / "artifacts", failures=2)
    job_id = _run_with_real_package(services, control_plane, alice, db_dsn, monkeypatch)

    job = control_plane.get_job(alice, job_id)
    assert job["status"] == "completed", job
    assert store.attempts == 3
    objects = list((tmp_path / "artifacts").rglob("app.zip"))
    assert len(objects) == 1
    assert job["artifact_checksum"] == sha256_file(objects[0]).checksum


def test_an_upload_failing_always_fails_the_job_with_a_reason_and_no_artifact(
    services: Services,
    control_plane: ControlPlane,
    alice: Caller,
    db_dsn: str,
    tmp_path: Path,
    calls: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services.artifacts = FlakyStore(tmp_path / "artifacts", failures=100)
    job_id = _run_with_real_package(services, control_plane, alice, db_dsn, monkeypatch)

    job = control_plane.get_job(alice, job_id)
    assert (job["status"], job["error_code"]) == ("failed", "dependency_unavailable")
    assert "storage API answered 503" in job["error_message"]
    assert "gave up after 4 attempts" in job["error_message"]
    with psycopg.connect(db_dsn) as conn:
        artifacts = conn.execute(
            "select count(*) from app_generation_artifacts where job_id = %s", (job_id,)
        ).fetchone()
        refunded = conn.execute(
            "select app_generation_refunded(j) from app_generation_jobs j where id = %s", (job_id,)
        ).fetchone()
    assert artifacts == (0,)
    assert refunded == (True,)
    assert list((tmp_path / "artifacts").rglob("app.zip")) == []


def test_a_live_worker_keeps_its_task_past_the_lease_through_its_heartbeat(
    services: Services,
    control_plane: ControlPlane,
    alice: Caller,
    db_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The step outlives its 1-second lease (the lease is backdated while it runs): the heartbeat renews
    it, so another delivery cannot take the task over and the step's result still counts."""
    taken_over: list[bool] = []

    def slow_scaffold(ctx: StepContext) -> StepOutcome:
        task_id = ctx.task.task_id
        execute(
            db_dsn,
            "update app_generation_tasks set lease_expires_at = now() - interval '1 min' where id = %s",
            task_id,
        )
        wait_for(lambda: _lease_is_live(db_dsn, task_id), 10, "the heartbeat to renew the lapsed lease")
        taken_over.append(control_plane.claim_task(task_id, 1) is not None)
        return StepOutcome({})

    monkeypatch.setattr(worker, "STEPS", {**worker.STEPS, "scaffold": slow_scaffold})
    job_id, _ = control_plane.submit_job(alice, small_spec(pages=1), None)
    jobs.start(services, job_id)
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    (message,) = dispatcher.messages
    assert worker.run_task(message.payload["taskId"], services) == "succeeded"
    assert taken_over == [False]


def _lease_is_live(db_dsn: str, task_id: UUID) -> bool:
    with psycopg.connect(db_dsn) as conn:
        row = conn.execute(
            "select lease_expires_at > now() from app_generation_tasks where id = %s", (task_id,)
        ).fetchone()
    return row == (True,)


def test_a_stored_spec_the_worker_cannot_load_fails_its_job_at_once_refunded_and_frees_its_slot(
    services: Services,
    control_plane: ControlPlane,
    alice: Caller,
    db_dsn: str,
    calls: list[tuple[str, str]],
) -> None:
    """The database and the API check a spec alike; should they ever disagree (or a row be written by
    hand), the first step fails the job with `spec_unreadable` instead of crashing on every delivery while
    the job holds one of its owner's two running slots until its deadline."""
    broken, running, waiting = (control_plane.submit_job(alice, small_spec(1), None)[0] for _ in range(3))
    for job_id in (broken, running, waiting):
        jobs.start(services, job_id)
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    assert control_plane.get_job(alice, waiting)["status"] == "queued"  # two running: the third waits
    execute(
        db_dsn,
        "update app_generation_job_specs set generation_spec ="
        " jsonb_set(generation_spec, '{pages,0,route}', '\"no-slash\"') where job_id = %s",
        str(broken),
    )
    (scaffold,) = [m for m in dispatcher.messages if m.target == "worker" and _job_of(db_dsn, m) == broken]

    assert worker.run_task(scaffold.payload["taskId"], services) == "failed"

    job = control_plane.get_job(alice, broken)
    assert (job["status"], job["error_code"]) == ("failed", "spec_unreadable")
    assert job["error_message"].startswith("The job's stored spec cannot be loaded (pages[0].route: ")
    assert calls == []  # no step ran on it
    with psycopg.connect(db_dsn) as conn:
        task_status = conn.execute(
            "select status::text from app_generation_tasks where id = %s", (scaffold.payload["taskId"],)
        ).fetchone()
        refunded = conn.execute(
            "select app_generation_refunded(j) from app_generation_jobs j where id = %s", (broken,)
        ).fetchone()
        logged = conn.execute(
            "select level, message from app_generation_logs where job_id = %s", (broken,)
        ).fetchall()
    assert task_status == ("failed",)
    assert refunded == (True,)
    assert logged == [("error", job["error_message"])]
    # The freed slot goes to the owner's queued job at once, and it starts.
    start = dispatcher.messages[-1]
    assert (start.target, start.payload) == ("orchestrate", {"jobId": str(waiting)})
    _deliver(services, start)
    assert control_plane.get_job(alice, waiting)["status"] == "running"
    assert control_plane.get_job(alice, running)["status"] == "running"
    assert worker.run_task(scaffold.payload["taskId"], services) == "noop"  # a redelivery changes nothing


def _job_of(db_dsn: str, message: TaskMessage) -> UUID:
    with psycopg.connect(db_dsn) as conn:
        row = conn.execute(
            "select job_id from app_generation_tasks where id = %s", (message.payload["taskId"],)
        ).fetchone()
    assert row is not None
    return UUID(str(row[0]))
