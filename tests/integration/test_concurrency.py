"""The control-plane rules under concurrency, on a real PostgreSQL with many connections: the daily cap, the
per-user running cap, page fan-in under duplicate deliveries, and the state machine's transition table."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from appgen import errors
from appgen.gateway import Caller, ControlPlane, Dispatch, PostgresTransport
from tests.conftest import user_claims
from tests.fixtures.specs import small_spec
from tests.fixtures.waiting import wait_for

CHECKSUM = "c" * 64


@pytest.fixture
def plane(db_dsn: str) -> Iterator[ControlPlane]:
    """A control plane with a connection open for every thread below. The pool starts with one and grows
    one at a time while callers wait, which would quietly serialize the "parallel" calls."""
    transport = PostgresTransport(db_dsn, max_size=24)
    transport._pool.resize(min_size=24, max_size=24)
    transport._pool.wait(timeout=15)
    cp = ControlPlane(transport)
    yield cp
    cp.transport.close()


def _sql(dsn: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def _in_parallel(fn: Any, items: list[Any]) -> list[Any]:
    """Calls fn on every item from its own thread, all released at once by a barrier."""
    barrier = threading.Barrier(len(items))

    def run(item: Any) -> Any:
        barrier.wait()
        return fn(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(run, items))


# -- daily cap -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("round_", range(3))
def test_twenty_parallel_submits_accept_exactly_five(plane: ControlPlane, db_dsn: str, round_: int) -> None:
    owner = uuid.uuid4()
    caller = Caller.user(user_claims(owner))

    def submit(_: int) -> tuple[uuid.UUID, bool] | errors.QuotaExceeded:
        try:
            return plane.submit_job(caller, small_spec(1), None)
        except errors.QuotaExceeded as exc:
            return exc

    results = _in_parallel(submit, list(range(20)))

    accepted = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, errors.QuotaExceeded)]
    assert (len(accepted), len(refused)) == (5, 15), results
    assert all(created for _, created in accepted) and len({job for job, _ in accepted}) == 5
    retry_after = sorted(r.retry_after or 0 for r in refused)
    assert retry_after[0] > 86000 and retry_after[-1] <= 86400, retry_after  # the next slot: in <= 24 h
    assert all("daily limit of 5" in r.message for r in refused)
    rows = _sql(db_dsn, "select status::text from app_generation_jobs where owner_id = %s", owner)
    assert [r["status"] for r in rows] == ["queued"] * 5


# -- running cap ---------------------------------------------------------------------------------------
def _deliver(plane: ControlPlane, dispatch: Dispatch) -> list[Dispatch]:
    """What a worker does with one delivery (orchestrator start, or claim -> step -> finish)."""
    if dispatch.kind == "start":
        return plane.start_job(dispatch.job_id)
    assert dispatch.task_id is not None
    task = plane.claim_task(dispatch.task_id, 60)
    if task is None:  # a duplicate or stale delivery
        return []
    if task.kind == "package":
        path = f"{task.owner_id}/{task.project_id}/{task.job_id}/app.zip"
        plane.record_artifact(task.job_id, "generated-apps", path, 1000, CHECKSUM)
    result = {"outcome": "passed"} if task.kind == "validate" else {}
    return plane.finish_task(task.task_id, task.attempt, result)


def test_ten_queued_jobs_and_eight_workers_never_run_more_than_two(plane: ControlPlane, db_dsn: str) -> None:
    owner = uuid.uuid4()
    caller = Caller.user(user_claims(owner))
    jobs = []
    for i in range(10):
        job_id, _ = plane.submit_job(caller, small_spec(1), None)
        # Age each job out of the 24-hour quota window (keeping submission order) so that ten fit today.
        _sql(
            db_dsn,
            "update app_generation_jobs set created_at = now() - interval '25 hours' + %s * interval '1 second'"
            " where id = %s",
            i,
            job_id,
        )
        jobs.append(job_id)

    deliveries: queue.Queue[Dispatch] = queue.Queue()
    for job_id in jobs:  # every submit asks the orchestrator to start its job, at least once: here twice
        deliveries.put(Dispatch("start", job_id, None))
        deliveries.put(Dispatch("start", job_id, None))
    stop = threading.Event()
    failures: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set():
            try:
                dispatch = deliveries.get(timeout=0.02)
            except queue.Empty:
                continue
            try:
                for nxt in _deliver(plane, dispatch):
                    deliveries.put(nxt)  # at-least-once delivery: every dispatch arrives twice
                    deliveries.put(nxt)
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)
                stop.set()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: failures or _statuses(db_dsn, owner) == ["completed"] * len(jobs),
            40,
            "all ten jobs to end",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)

    assert not failures, failures
    assert _statuses(db_dsn, owner) == ["completed"] * len(jobs)
    assert _peak_running(db_dsn, owner) == 2  # the cap is reached, and never exceeded
    starts = _sql(
        db_dsn,
        "select job_id, count(*) as n from app_generation_job_events"
        " where owner_id = %s and from_status = 'queued' and to_status = 'running' group by job_id",
        owner,
    )
    assert sorted(r["job_id"] for r in starts) == sorted(jobs) and {r["n"] for r in starts} == {1}


def _statuses(dsn: str, owner: uuid.UUID) -> list[str]:
    rows = _sql(dsn, "select status::text from app_generation_jobs where owner_id = %s", owner)
    return [r["status"] for r in rows]


def _peak_running(dsn: str, owner: uuid.UUID) -> int:
    """The most jobs the owner ever had running or fixing at once, replayed from the job events.

    Replayed in `id` order, not `at` order. `at` is now(), the start of the event's transaction: a start_job
    that began before another job ended, then waited for the per-user lock, counts running jobs after that
    end committed, yet its event carries the earlier `at`, so `at` order could show three running when the
    database only ever saw two. `id` comes from a sequence when the event is inserted: every start takes the
    per-user advisory lock before it counts running jobs and inserts its event, so the starts are replayed
    in the order they decided; an end with a smaller id either committed before the start counted, or was
    still counted as running by it (the replay then shows one fewer). So at each start the replayed count
    is at most what that start counted plus one: a replayed 3 means a start saw 2 running and went ahead.
    """
    events = _sql(
        dsn,
        "select from_status::text, to_status::text from app_generation_job_events"
        " where owner_id = %s order by id",
        owner,
    )
    running = peak = 0
    for event in events:
        if event["from_status"] == "queued" and event["to_status"] in ACTIVE:
            running += 1
        elif event["from_status"] in ACTIVE and event["to_status"] in ENDED:
            running -= 1
        peak = max(peak, running)
    assert running == 0, f"{running} jobs never left running: {events}"
    return peak


# -- fan-in --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("round_", range(3))
def test_six_pages_finished_in_parallel_twice_hand_out_integration_once(
    plane: ControlPlane, db_dsn: str, round_: int
) -> None:
    caller = Caller.user(user_claims())
    job_id, _ = plane.submit_job(caller, small_spec(6), None)
    (scaffold,) = plane.start_job(job_id)
    assert len(_deliver(plane, scaffold)) == 4  # the window
    # The window governs what is dispatched; a claim is by task id, so all six pages can run at once.
    pages = _sql(db_dsn, "select id from app_generation_tasks where job_id = %s and kind = 'page'", job_id)
    claimed = [plane.claim_task(row["id"], 60) for row in pages]
    assert len(claimed) == 6 and all(claimed)

    results = _in_parallel(lambda t: plane.finish_task(t.task_id, t.attempt, {}), claimed * 2)

    kinds = [d.kind for dispatches in results for d in dispatches]
    assert kinds.count("integrate") == 1, kinds
    assert set(kinds) <= {"page", "integrate"}
    tasks = _sql(
        db_dsn,
        "select kind, status::text, count(*) as n from app_generation_tasks where job_id = %s group by 1, 2",
        job_id,
    )
    assert {(t["kind"], t["status"]): t["n"] for t in tasks} == {
        ("scaffold", "succeeded"): 1,
        ("page", "succeeded"): 6,
        ("integrate", "pending"): 1,
    }
    assert plane.get_job(caller, job_id)["stage"] == "integrate"


# -- the state machine ---------------------------------------------------------------------------------
# From the plan (DESIGN.md §5, issue 3), not from the SQL: a change to either shows up here.
ALLOWED: dict[str, set[str]] = {
    "queued": {"running", "cancelled", "failed"},  # failed: a job that could not even be dispatched
    "running": {"fixing", "completed", "completed_with_warnings", "failed", "cancelled"},
    "fixing": {"completed", "completed_with_warnings", "failed", "cancelled"},
    "completed": {"expired"},
    "completed_with_warnings": {"expired"},
    "failed": set(),
    "expired": set(),
    "cancelled": set(),
}
ENDED = {"completed", "completed_with_warnings", "failed", "cancelled"}
ACTIVE = {"running", "fixing"}  # the statuses the running cap counts


def test_every_transition_is_checked_and_every_legal_one_recorded_once(db_dsn: str) -> None:
    mismatches: list[str] = []
    with psycopg.connect(db_dsn, row_factory=dict_row, autocommit=True) as conn:
        labels = conn.execute("select unnest(enum_range(null::app_generation_status))::text as s").fetchall()
        assert [r["s"] for r in labels] == list(ALLOWED), "the status enum changed: update ALLOWED"
        conn.execute("set role service_role")  # the workers' role; the trigger guards it as well
        for from_status in ALLOWED:
            for to_status in ALLOWED:
                mismatch = _try_transition(conn, from_status, to_status)
                if mismatch:
                    mismatches.append(f"{from_status} -> {to_status}: {mismatch}")
    assert not mismatches, "\n".join(mismatches)


def _try_transition(conn: psycopg.Connection[dict[str, Any]], from_status: str, to_status: str) -> str | None:
    project, owner = uuid.uuid4(), uuid.uuid4()
    conn.execute(
        "insert into app_generation_projects (project_id, owner_id) values (%s, %s)", (project, owner)
    )
    job = conn.execute(
        "insert into app_generation_jobs (owner_id, project_id, status, error_code, spec_hash,"
        " page_count, page_parallelism) values (%s, %s, %s, %s, 'x', 1, 1) returning id",
        (owner, project, from_status, "internal" if from_status == "failed" else None),
    ).fetchone()["id"]  # type: ignore[index]
    events_before = _events(conn, job)
    try:
        conn.execute(
            "update app_generation_jobs set status = %s,"
            " error_code = case when %s = 'failed' then 'internal' else error_code end where id = %s",
            (to_status, to_status, job),
        )
        refused = None
    except psycopg.Error as exc:
        refused = exc.sqlstate
    new_events = _events(conn, job)[len(events_before) :]
    row = conn.execute(
        "select status::text, started_at, deadline_at, finished_at from app_generation_jobs where id = %s",
        (job,),
    ).fetchone()
    assert row is not None

    if from_status == to_status:
        expected: tuple[Any, ...] = (None, [], from_status)
    elif to_status in ALLOWED[from_status]:
        expected = (None, [(from_status, to_status)], to_status)
    else:
        expected = ("AGIT0", [], from_status)
    actual = (refused, new_events, row["status"])
    if actual != expected:
        return f"expected (error, events, status) {expected}, got {actual}"
    if refused is None and from_status != to_status:
        if (from_status, to_status) == ("queued", "running") and not (
            row["started_at"] and row["deadline_at"]
        ):
            return "started_at/deadline_at not set by the database"
        if to_status in ENDED and row["finished_at"] is None:
            return "finished_at not set by the database"
    return None


def _events(conn: psycopg.Connection[dict[str, Any]], job: uuid.UUID) -> list[tuple[str | None, str]]:
    rows = conn.execute(
        "select from_status::text, to_status::text from app_generation_job_events where job_id = %s order by id",
        (job,),
    ).fetchall()
    return [(r["from_status"], r["to_status"]) for r in rows]
