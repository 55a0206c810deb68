"""The control-plane RPCs on a real PostgreSQL: the pipeline's state machine end to end, fan-in, the fix
loop policy, transient backoff, cancel, downloads and the owner-only rules."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from appgen import errors
from appgen.gateway import Caller, ControlPlane, Dispatch, PostgresTransport
from appgen.status import JobStatus
from tests.conftest import user_claims
from tests.fixtures.specs import small_spec

CHECKSUM = "a" * 64


def _sql(dsn: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def _run(cp: ControlPlane, dispatch: Dispatch, result: dict[str, Any] | None = None) -> list[Dispatch]:
    """Claim and finish one dispatched task as a worker would."""
    assert dispatch.task_id is not None
    task = cp.claim_task(dispatch.task_id, 60)
    assert task is not None, f"{dispatch.kind} could not be claimed"
    if task.kind == "package":
        cp.record_artifact(task.job_id, "generated-apps", f"o/p/{task.job_id}/app.zip", 1234, CHECKSUM)
    return cp.finish_task(task.task_id, task.attempt, result or {}, 10, 5)


def _submit_and_start(cp: ControlPlane, caller: Caller, pages: int = 2) -> tuple[uuid.UUID, list[Dispatch]]:
    job_id, created = cp.submit_job(caller, small_spec(pages), None)
    assert created
    return job_id, cp.start_job(job_id)


def test_a_job_runs_through_every_step_to_completed(control_plane: ControlPlane, alice: Caller) -> None:
    job_id, first = _submit_and_start(control_plane, alice, pages=2)
    assert [d.kind for d in first] == ["scaffold"]
    assert control_plane.get_job(alice, job_id)["status"] == "running"

    pages = _run(control_plane, first[0])
    assert sorted(d.kind for d in pages) == ["page", "page"]
    assert _run(control_plane, pages[0]) == []  # the other page is still running: no fan-in yet
    integrate = _run(control_plane, pages[1])
    assert [d.kind for d in integrate] == ["integrate"]
    validate = _run(control_plane, integrate[0])
    assert [d.kind for d in validate] == ["validate"]
    package = _run(control_plane, validate[0], {"outcome": "passed"})
    assert [d.kind for d in package] == ["package"]
    assert _run(control_plane, package[0]) == []

    job = control_plane.get_job(alice, job_id)
    assert job["status"] == "completed"
    assert job["stage"] == "done"
    assert job["percent"] == 100
    assert job["pages_done"] == 2
    assert job["artifact_size_bytes"] == 1234
    assert job["tokens_input"] == 10 * 6 and job["tokens_output"] == 5 * 6
    assert job["finished_at"] is not None and job["started_at"] is not None


def test_events_record_every_transition(control_plane: ControlPlane, alice: Caller, db_dsn: str) -> None:
    job_id, _first = _submit_and_start(control_plane, alice, pages=1)
    control_plane.cancel_job(alice, job_id)
    events = _sql(
        db_dsn,
        "select from_status::text, to_status::text, reason, actor from "
        "app_generation_job_events where job_id = %s order by id",
        job_id,
    )
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "cancelled"),
    ]
    assert events[1]["reason"] == "slot available"
    assert events[2]["reason"] == "cancelled by owner"
    assert events[2]["actor"] == alice.claims["sub"]  # type: ignore[index]


def test_illegal_transition_is_refused_by_the_database(
    db_dsn: str, control_plane: ControlPlane, alice: Caller
) -> None:
    job_id, _ = _submit_and_start(control_plane, alice, pages=1)
    control_plane.cancel_job(alice, job_id)
    with pytest.raises(psycopg.Error) as info:
        _sql(db_dsn, "update app_generation_jobs set status = 'running' where id = %s", job_id)
    assert info.value.sqlstate == "AGIT0"


def test_last_pages_finishing_together_start_integration_once(
    control_plane: ControlPlane, alice: Caller
) -> None:
    _job_id, first = _submit_and_start(control_plane, alice, pages=3)
    pages = _run(control_plane, first[0])
    claimed = [control_plane.claim_task(d.task_id, 60) for d in pages if d.task_id]
    assert all(claimed)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda t: control_plane.finish_task(t.task_id, t.attempt, {}), claimed))
    kinds = [d.kind for r in results for d in r]
    assert kinds == ["integrate"]


def test_duplicate_delivery_of_a_finished_task_is_a_noop(control_plane: ControlPlane, alice: Caller) -> None:
    _job_id, first = _submit_and_start(control_plane, alice, pages=1)
    task = control_plane.claim_task(first[0].task_id, 60)  # type: ignore[arg-type]
    assert task is not None
    assert control_plane.claim_task(task.task_id, 60) is None  # held by a live lease
    assert [d.kind for d in control_plane.finish_task(task.task_id, task.attempt, {})] == ["page"]
    assert control_plane.finish_task(task.task_id, task.attempt, {}) == []
    assert control_plane.claim_task(task.task_id, 60) is None


def test_page_window_hands_out_at_most_four_pages(control_plane: ControlPlane, alice: Caller) -> None:
    _job_id, first = _submit_and_start(control_plane, alice, pages=6)
    window = _run(control_plane, first[0])
    assert len(window) == 4
    slid = _run(control_plane, window[0])
    assert [d.kind for d in slid] == ["page"] and slid[0].task_id not in {d.task_id for d in window}


def _to_validate(cp: ControlPlane, caller: Caller) -> tuple[uuid.UUID, Dispatch]:
    job_id, first = _submit_and_start(cp, caller, pages=1)
    (page,) = _run(cp, first[0])
    (integrate,) = _run(cp, page)
    (validate,) = _run(cp, integrate)
    return job_id, validate


def test_failed_validation_starts_fix_rounds_until_the_limit(
    control_plane: ControlPlane, alice: Caller
) -> None:
    job_id, validate = _to_validate(control_plane, alice)
    for round_ in range(1, 5):
        (fix,) = _run(
            control_plane, validate, {"outcome": "failed", "signature": f"sig-{round_}", "summary": "x"}
        )
        assert fix.kind == "fix"
        job = control_plane.get_job(alice, job_id)
        assert (job["status"], job["fix_round"]) == ("fixing", round_)
        (validate,) = _run(control_plane, fix, {"diffSummary": f"round {round_}"})
        assert validate.kind == "validate"
    assert _run(control_plane, validate, {"outcome": "failed", "signature": "sig-5", "summary": "boom"}) == []
    job = control_plane.get_job(alice, job_id)
    assert job["status"] == "failed"
    assert job["error_code"] == "build_failed"
    assert "after 4 fix rounds" in job["error_message"] and "boom" in job["error_message"]


def test_fix_task_receives_the_failure_and_previous_diff(control_plane: ControlPlane, alice: Caller) -> None:
    _, validate = _to_validate(control_plane, alice)
    (fix1,) = _run(control_plane, validate, {"outcome": "failed", "signature": "s1", "output": "E1"})
    task = control_plane.claim_task(fix1.task_id, 60)  # type: ignore[arg-type]
    assert task is not None and task.inputs == {
        "failure": {"outcome": "failed", "signature": "s1", "output": "E1"},
        "previousFix": None,
    }
    (validate2,) = control_plane.finish_task(task.task_id, task.attempt, {"diffSummary": "d1"})
    (fix2,) = _run(control_plane, validate2, {"outcome": "failed", "signature": "s2", "output": "E2"})
    task2 = control_plane.claim_task(fix2.task_id, 60)  # type: ignore[arg-type]
    assert task2 is not None and task2.inputs["previousFix"] == {"diffSummary": "d1"}
    assert task2.inputs["failure"]["output"] == "E2"


def test_same_error_three_times_stops_the_fix_loop_early(control_plane: ControlPlane, alice: Caller) -> None:
    job_id, validate = _to_validate(control_plane, alice)
    for _ in range(2):
        (fix,) = _run(control_plane, validate, {"outcome": "failed", "signature": "same"})
        (validate,) = _run(control_plane, fix)
    assert (
        _run(control_plane, validate, {"outcome": "failed", "signature": "same", "summary": "TS2322"}) == []
    )
    job = control_plane.get_job(alice, job_id)
    assert (job["status"], job["error_code"], job["fix_round"]) == ("failed", "build_failed", 2)
    assert "repeated" in job["error_message"]


def test_install_failure_still_packages(control_plane: ControlPlane, alice: Caller) -> None:
    job_id, validate = _to_validate(control_plane, alice)
    (package,) = _run(control_plane, validate, {"outcome": "install_failed"})
    control_plane.add_job_warning(job_id, "npm_install_failed", "npm install failed")
    control_plane.add_job_warning(job_id, "npm_install_failed", "npm install failed")
    assert _run(control_plane, package) == []
    job = control_plane.get_job(alice, job_id)
    assert job["status"] == "completed_with_warnings"
    assert job["warnings"] == [{"code": "npm_install_failed", "message": "npm install failed"}]


def test_transient_failures_back_off_20_60_180_then_fail(control_plane: ControlPlane, alice: Caller) -> None:
    job_id, first = _submit_and_start(control_plane, alice, pages=1)
    task_id = first[0].task_id
    delays = []
    for _ in range(3):
        task = control_plane.claim_task(task_id, 60)  # type: ignore[arg-type]
        assert task is not None
        (retry,) = control_plane.fail_task(task.task_id, task.attempt, "agent_quota", "429")
        delays.append(retry.delay_seconds)
        assert control_plane.claim_task(task_id, 60) is None  # type: ignore[arg-type]  # not due yet
        _make_due(control_plane, task_id)
    assert delays == [20, 60, 180]
    task = control_plane.claim_task(task_id, 60)  # type: ignore[arg-type]
    assert task is not None and task.attempt == 4
    assert control_plane.fail_task(task.task_id, 4, "agent_quota", "model said 429") == []
    job = control_plane.get_job(alice, job_id)
    assert job["status"] == "failed" and job["error_code"] == "agent_quota"
    assert job["error_message"] == "model said 429 (gave up after 4 attempts)"


def _make_due(cp: ControlPlane, task_id: uuid.UUID | None) -> None:
    transport = cp.transport
    with transport._pool.connection() as conn:  # type: ignore[attr-defined]
        conn.execute("update app_generation_tasks set not_before = now() where id = %s", (task_id,))


def test_permanent_failure_fails_the_job_and_starts_the_next_queued(
    control_plane: ControlPlane, alice: Caller
) -> None:
    job1, first = _submit_and_start(control_plane, alice, pages=1)
    _job2, _second = _submit_and_start(control_plane, alice, pages=1)
    job3, _ = control_plane.submit_job(alice, small_spec(1), None)
    assert control_plane.start_job(job3) == []  # two running: the third waits
    assert control_plane.get_job(alice, job3)["status"] == "queued"
    task = control_plane.claim_task(first[0].task_id, 60)  # type: ignore[arg-type]
    assert task is not None
    nxt = control_plane.fail_task(task.task_id, task.attempt, "guardrail_violation", "prisma found")
    assert nxt == [Dispatch("start", job3, None, 0)]
    assert control_plane.get_job(alice, job1)["error_code"] == "guardrail_violation"
    assert [d.kind for d in control_plane.start_job(job3)] == ["scaffold"]


def test_cancel_makes_queued_deliveries_noops(control_plane: ControlPlane, alice: Caller) -> None:
    job_id, first = _submit_and_start(control_plane, alice, pages=1)
    assert control_plane.job_is_active(job_id)
    control_plane.cancel_job(alice, job_id)
    assert not control_plane.job_is_active(job_id)
    assert control_plane.claim_task(first[0].task_id, 60) is None  # type: ignore[arg-type]
    with pytest.raises(errors.IllegalTransition):
        control_plane.cancel_job(alice, job_id)


def test_download_needs_a_finished_job_of_the_caller(
    control_plane: ControlPlane, alice: Caller, bob: Caller
) -> None:
    job_id, validate = _to_validate(control_plane, alice)
    with pytest.raises(errors.NotReady):
        control_plane.request_download(alice, job_id)
    (package,) = _run(control_plane, validate, {"outcome": "passed"})
    _run(control_plane, package)
    location = control_plane.request_download(alice, job_id)
    assert location.bucket == "generated-apps" and location.path.endswith(f"{job_id}/app.zip")
    with pytest.raises(errors.NotFound):
        control_plane.request_download(bob, job_id)


def test_logs_are_redacted_and_paginated(control_plane: ControlPlane, alice: Caller) -> None:
    job_id, _ = _submit_and_start(control_plane, alice, pages=1)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlLXZhbHVl"
    for i in range(3):
        control_plane.append_job_log(job_id, None, "info", "scaffold", f"line {i} Bearer {jwt}")
    first = control_plane.list_job_logs(alice, job_id, 0, 2)
    assert [r["message"] for r in first] == ["line 0 Bearer [REDACTED]", "line 1 Bearer [REDACTED]"]
    rest = control_plane.list_job_logs(alice, job_id, first[-1]["id"], 2)
    assert [r["message"] for r in rest] == ["line 2 Bearer [REDACTED]"]


# -- owner-only rules ----------------------------------------------------------------------------------
def _as(dsn: str, caller: Caller, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn, conn.transaction():
        conn.execute(f"set local role {caller.role}")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(caller.claims),))
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


TABLES = [
    "app_generation_jobs",
    "app_generation_job_specs",
    "app_generation_tasks",
    "app_generation_artifacts",
    "app_generation_logs",
    "app_generation_job_events",
    "app_generation_projects",
]


def test_users_see_none_of_another_users_rows(
    control_plane: ControlPlane, db_dsn: str, alice: Caller, bob: Caller
) -> None:
    job_id, validate = _to_validate(control_plane, alice)
    control_plane.append_job_log(job_id, None, "info", "pages", "hello")
    (package,) = _run(control_plane, validate, {"outcome": "passed"})
    _run(control_plane, package)
    for table in TABLES:
        assert _as(db_dsn, alice, f"select count(*) as n from {table}")[0]["n"] > 0, table
        assert _as(db_dsn, bob, f"select count(*) as n from {table}")[0]["n"] == 0, table
    assert control_plane.list_jobs(bob, None, 20) == []
    with pytest.raises(errors.NotFound):
        control_plane.get_job(bob, job_id)
    assert control_plane.list_job_logs(bob, job_id, 0, 10) == []


@pytest.mark.parametrize(
    "statement",
    [
        "insert into app_generation_jobs (owner_id, project_id, spec_hash, page_count, page_parallelism) "
        "values (auth.uid(), gen_random_uuid(), 'x', 1, 1)",
        "update app_generation_job_specs set generation_spec = '{}'",
        "update app_generation_jobs set status = 'completed'",
        "delete from app_generation_jobs",
        "insert into app_generation_logs (job_id, owner_id, level, stage, message) "
        "select id, owner_id, 'info', 'x', 'forged' from app_generation_jobs",
        "update app_generation_tasks set status = 'succeeded'",
        "insert into app_generation_artifacts (job_id, owner_id, project_id, bucket, path, size_bytes, checksum) "
        "select id, owner_id, project_id, 'b', 'p', 1, repeat('a', 64) from app_generation_jobs",
    ],
)
def test_users_cannot_write_tables_directly(
    control_plane: ControlPlane, db_dsn: str, alice: Caller, statement: str
) -> None:
    _submit_and_start(control_plane, alice, pages=1)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(db_dsn, alice, statement)


@pytest.mark.parametrize(
    "function",
    [
        "start_job(gen_random_uuid())",
        "claim_task(gen_random_uuid(), 60)",
        "fail_task(gen_random_uuid(), 1, 'x', 'y')",
        "record_artifact(gen_random_uuid(), 'b', 'p', 1, 'c')",
        "append_job_log(gen_random_uuid(), null, 'info', 's', 'm')",
    ],
)
def test_users_cannot_call_worker_rpcs(db_dsn: str, alice: Caller, function: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(db_dsn, alice, f"select * from public.{function}")


def test_anon_cannot_submit(db_dsn: str) -> None:
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege),
        psycopg.connect(db_dsn) as conn,
        conn.transaction(),
    ):
        conn.execute("set local role anon")
        conn.execute("select * from public.submit_job('{}'::jsonb)")


def test_a_project_belongs_to_its_first_user(control_plane: ControlPlane, alice: Caller, bob: Caller) -> None:
    project = uuid.uuid4()
    control_plane.submit_job(alice, small_spec(1, project_id=project), None)
    with pytest.raises(errors.NotFound):
        control_plane.submit_job(bob, small_spec(1, project_id=project), None)


def test_idempotency_key_returns_the_same_job(control_plane: ControlPlane, alice: Caller) -> None:
    spec = small_spec(1)
    first, created1 = control_plane.submit_job(alice, spec, "key-1")
    second, created2 = control_plane.submit_job(alice, spec, "key-1")
    assert (first, created1, created2) == (second, True, False)
    with pytest.raises(errors.IdempotencyConflict):
        control_plane.submit_job(alice, small_spec(2, project_id=uuid.UUID(spec["projectId"])), "key-1")


def test_daily_cap_of_five_says_when_the_next_slot_opens(control_plane: ControlPlane) -> None:
    caller = Caller.user(user_claims())
    for _ in range(5):
        control_plane.submit_job(caller, small_spec(1), None)
    with pytest.raises(errors.QuotaExceeded) as info:
        control_plane.submit_job(caller, small_spec(1), None)
    assert info.value.retry_after is not None and 86000 < info.value.retry_after <= 86400


def test_python_job_states_mirror_the_sql_enum(db_dsn: str) -> None:
    rows = _sql(db_dsn, "select unnest(enum_range(null::app_generation_status))::text as status")
    assert [row["status"] for row in rows] == [status.value for status in JobStatus]


def test_each_rpc_runs_in_one_transaction_as_its_caller_and_leaves_the_connection_as_it_found_it(
    db_dsn: str, alice: Caller, bob: Caller
) -> None:
    """The transport sends role, claims and the RPC in one pipeline, relying on the implicit transaction
    that ends at its Sync: the RPC runs as the caller (RLS applies, auth.uid() is theirs), a failing one
    leaves nothing behind, and the pooled connection's next user finds neither role nor claims."""
    transport = PostgresTransport(db_dsn, max_size=1)  # one connection: every call reuses it
    plane = ControlPlane(transport)
    try:
        job_id, _ = plane.submit_job(alice, small_spec(1), None)
        assert plane.get_job(alice, job_id)["owner_id"] == uuid.UUID(str((alice.claims or {})["sub"]))
        with pytest.raises(errors.NotFound):
            plane.get_job(bob, job_id)
        with pytest.raises(errors.InvalidRequest):
            plane.submit_job(alice, {**small_spec(1), "pages": []}, "refused")
        with transport._pool.connection() as conn:  # type: ignore[attr-defined]
            left = conn.execute(
                "select current_user as role, current_setting('request.jwt.claims', true) as claims"
            ).fetchone()
        assert left == {"role": "postgres", "claims": ""}
        assert [r["job_id"] for r in plane.list_jobs(alice, None, 10)] == [job_id]
    finally:
        transport.close()
