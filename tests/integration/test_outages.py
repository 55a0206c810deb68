"""Dependency outages seen through the public API: the database away answers 503 with Retry-After and
writes nothing; the queue away after a submit was committed still answers with the job, which the
cleanup sweep starts (a 503 there would make the caller submit a second job)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import flask.testing
import psycopg
import pytest
from werkzeug.test import TestResponse

from appgen import errors
from appgen.dispatch import Dispatcher, TaskMessage
from appgen.gateway import Caller, ControlPlane, PostgresTransport
from appgen.localstack.postgres import LocalPostgres
from appgen.localstack.server import create_app
from appgen.services import Services
from tests.fixtures.specs import small_spec
from tests.fixtures.waiting import wait_for
from tests.integration.apitest import JOBS, auth_headers, make_services


class QueueDown(Dispatcher):
    """A queue that refuses every enqueue, as Cloud Tasks does during an outage."""

    def __init__(self) -> None:
        self.refused: list[TaskMessage] = []

    def enqueue(self, message: TaskMessage) -> None:
        self.refused.append(message)
        raise errors.DependencyUnavailable("Cloud Tasks answered 503")


# The API's promise during a database outage: each request answers 503 within this many seconds.
OUTAGE_ANSWER_S = 2.0


@pytest.fixture
def services(db_dsn: str, tmp_path: Path) -> Iterator[Services]:
    plane = ControlPlane(PostgresTransport(db_dsn, max_size=4))  # the production pool's timings
    yield make_services(plane, tmp_path)
    plane.transport.close()


def _answer_during_outage(
    client: flask.testing.FlaskClient, method: str, path: str, body: object, headers: dict[str, str]
) -> TestResponse:
    started = time.monotonic()
    response = client.open(path, method=method, json=body, headers=headers)
    elapsed = time.monotonic() - started
    assert response.status_code == 503, (path, response.json)
    assert elapsed < OUTAGE_ANSWER_S, f"{method} {path} answered after {elapsed:.2f} s"
    assert response.json["error"]["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.get_data(as_text=True)
    return response


@pytest.fixture
def client(services: Services) -> Iterator[flask.testing.FlaskClient]:
    yield create_app(lambda: services).test_client()


def _jobs(db_dsn: str) -> int:
    with psycopg.connect(db_dsn) as conn:
        row = conn.execute("select count(*) from app_generation_jobs").fetchone()
    assert row is not None
    return int(row[0])


def test_with_the_database_away_every_route_answers_503_and_writes_nothing(
    client: flask.testing.FlaskClient, alice: Caller, db_dsn: str, pg_cluster: LocalPostgres
) -> None:
    headers = auth_headers(alice)
    job_id = client.post(JOBS, json=small_spec(1), headers=headers).json["jobId"]
    database = db_dsn.rsplit("/", 1)[1]
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'alter database "{database}" allow_connections false')
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (database,)
        )
        try:
            # Each answers on its own: the first finds the pooled connection dead, the others wait for a
            # new one only as long as the pool's bound, not the 10 s they used to.
            for method, path, body in (
                ("POST", JOBS, small_spec(1)),
                ("GET", f"{JOBS}/{job_id}", None),
                ("GET", JOBS, None),
                ("GET", f"{JOBS}/{job_id}/logs", None),
                ("POST", f"{JOBS}/{job_id}/download", None),
                ("POST", f"{JOBS}/{job_id}/cancel", None),
            ):
                _answer_during_outage(client, method, path, body, headers)
        finally:
            admin.execute(f'alter database "{database}" allow_connections true')
    assert _jobs(db_dsn) == 1  # the refused submit wrote nothing

    # The pool reconnects on its own (with backoff): the API comes back without a restart.
    def answered() -> TestResponse | None:
        response = client.get(f"{JOBS}/{job_id}", headers=headers)
        return None if response.status_code == 503 else response

    status = wait_for(answered, 60, "the API to recover from the outage", every=1)
    assert (status.status_code, status.json["status"]) == (200, "queued")


def test_a_database_down_when_the_process_starts_is_an_outage_not_a_crash(
    tmp_path: Path, alice: Caller
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    started = time.monotonic()
    transport = PostgresTransport(f"postgresql://postgres@127.0.0.1:{closed}/postgres", open_wait_s=0.5)
    try:
        assert time.monotonic() - started < 5  # built, not refused: the pool keeps trying
        client = create_app(lambda: make_services(ControlPlane(transport), tmp_path)).test_client()
        _answer_during_outage(client, "GET", JOBS, None, auth_headers(alice))
    finally:
        transport.close()


def test_with_the_queue_away_a_submit_still_answers_with_its_job_and_the_sweep_starts_it(
    client: flask.testing.FlaskClient,
    services: Services,
    control_plane: ControlPlane,
    alice: Caller,
    db_dsn: str,
) -> None:
    services.dispatcher = queue = QueueDown()
    response = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice))
    assert response.status_code == 202, response.json
    job_id = response.json["jobId"]
    assert [m.payload for m in queue.refused] == [{"jobId": job_id}]
    assert _jobs(db_dsn) == 1
    # The database still owes the job its start: the sweep's redelivery hands it out.
    owed = control_plane.redispatch_owed_tasks(grace_seconds=0)
    assert [(d.kind, str(d.job_id)) for d in owed] == [("start", job_id)]
