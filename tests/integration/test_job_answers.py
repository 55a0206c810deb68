"""The status route's kept answers (appgen/gateway/answers.py) on a real database, through the HTTP API:
polls of an unchanged job cost no database read, every change is shown by the first request after its
notification (at once after a cancel through this process; a change made by another process once its
notification arrives), refusals and download links are never kept, an answer read while its job changed
is not kept, and while the listening connection is lost or its probes do not come back nothing is kept or
served. Which RPCs reach the database is counted by the real transport itself."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask.testing
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from appgen.gateway import Caller, ControlPlane, PostgresTransport, Row
from appgen.gateway.changes import ListenedChanges
from appgen.localstack.postgres import LocalPostgres
from appgen.localstack.server import create_app
from appgen.services import Services
from appgen.settings import REPO_ROOT
from tests.fixtures.specs import small_spec
from tests.fixtures.waiting import wait_for
from tests.integration.apitest import (
    JOBS,
    Change,
    auth_headers,
    complete_job,
    job_object_changes,
    make_services,
)


class CountingTransport(PostgresTransport):
    """The real transport, counting the RPCs it sends by name. `during_get_job`, when set, runs once right
    after the next get_job has read its row and before that row is answered. While `probes_lost` is set,
    the change feed's probes are not sent, as when they never come back (the listening connection stays)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()
        self.during_get_job: Callable[[], None] | None = None
        self.probes_lost = False

    def _notify(self, channel: str) -> None:
        if not self.probes_lost:
            super()._notify(channel)

    def call(self, function: str, args: dict[str, Any], caller: Caller) -> list[Row]:
        self.calls[function] += 1
        rows = super().call(function, args, caller)
        if function == "get_job" and self.during_get_job is not None:
            during, self.during_get_job = self.during_get_job, None
            during()
        return rows


@pytest.fixture
def transport(db_dsn: str) -> Iterator[CountingTransport]:
    built = CountingTransport(db_dsn, max_size=4)
    yield built
    built.close()


@pytest.fixture
def services(transport: CountingTransport, tmp_path: Path) -> Iterator[Services]:
    built = make_services(ControlPlane(transport), tmp_path)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> flask.testing.FlaskClient:
    return create_app(lambda: services).test_client()


def _vouching(services: Services) -> None:
    services.job_answers  # noqa: B018 - built: starts the change feed
    wait_for(services.job_changes.vouches, 10, "the change feed to vouch for itself")


def _submit(client: flask.testing.FlaskClient, caller: Caller) -> str:
    response = client.post(JOBS, json=small_spec(1), headers=auth_headers(caller))
    assert response.status_code == 202, response.json
    return str(response.json["jobId"])


def test_polls_of_an_unchanged_job_are_answered_without_reading_it_again(
    client: flask.testing.FlaskClient, services: Services, transport: CountingTransport, alice: Caller
) -> None:
    job_id = _submit(client, alice)
    _vouching(services)
    url = f"{JOBS}/{job_id}"
    first = client.get(url, headers=auth_headers(alice))
    assert first.status_code == 200 and first.json["status"] == "queued"
    reads = transport.calls["get_job"]
    for _ in range(3):
        again = client.get(url, headers={**auth_headers(alice), "If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]
        plain = client.get(url, headers=auth_headers(alice))
        assert plain.status_code == 200 and plain.json == first.json
    assert transport.calls["get_job"] == reads and transport.calls["get_job_version"] == 0
    assert services.job_answers.held() == 1


def test_another_user_is_refused_by_the_database_every_time(
    client: flask.testing.FlaskClient,
    services: Services,
    transport: CountingTransport,
    alice: Caller,
    bob: Caller,
) -> None:
    job_id = _submit(client, alice)
    _vouching(services)
    url = f"{JOBS}/{job_id}"
    etag = client.get(url, headers=auth_headers(alice)).headers["ETag"]  # alice's answer is kept
    reads = transport.calls["get_job"] + transport.calls["get_job_version"]
    for headers in (auth_headers(bob), {**auth_headers(bob), "If-None-Match": etag}):
        refused = client.get(url, headers=headers)
        assert refused.status_code == 404 and refused.json["error"]["code"] == "not_found"
    assert transport.calls["get_job"] + transport.calls["get_job_version"] == reads + 2
    assert services.job_answers.held() == 1, "refusals are not kept"


def test_each_change_of_the_job_is_shown_by_the_first_request_after_its_notification(
    client: flask.testing.FlaskClient,
    services: Services,
    transport: CountingTransport,
    alice: Caller,
    db_dsn: str,
) -> None:
    job_id = _submit(client, alice)
    _vouching(services)
    plane, url = services.control_plane, f"{JOBS}/{job_id}"
    etag = client.get(url, headers=auth_headers(alice)).headers["ETag"]
    changes: list[Change] = [
        ("a log line", lambda: plane.append_job_log(uuid.UUID(job_id), None, "info", "queued", "x"), bool),
        *job_object_changes(services, job_id, db_dsn),
    ]
    for name, change, shows in changes:
        assert services.job_answers.held() == 1, name
        change()
        wait_for(
            lambda: services.job_answers.held() == 0, 10, f"the notification of {name} to drop the answer"
        )
        reads = transport.calls["get_job"]
        answer = client.get(url, headers={**auth_headers(alice), "If-None-Match": etag})
        # Read again (more than once when later notifications of the same change, which completing a
        # job sends many of, drop the answer read meanwhile).
        assert transport.calls["get_job"] > reads, name
        if name == "a log line":  # the job object did not change: the same ETag
            assert answer.status_code == 304 and answer.headers["ETag"] == etag
            continue
        assert answer.status_code == 200 and shows(answer.json), (name, answer.status_code, answer.json)
        assert answer.headers["ETag"] != etag, name
        etag = answer.headers["ETag"]


def test_a_cancel_through_this_process_is_shown_by_the_very_next_request(
    client: flask.testing.FlaskClient, services: Services, alice: Caller
) -> None:
    job_id = _submit(client, alice)
    _vouching(services)
    url = f"{JOBS}/{job_id}"
    assert client.get(url, headers=auth_headers(alice)).json["status"] == "queued"
    assert client.post(f"{url}/cancel", headers=auth_headers(alice)).status_code == 202
    assert client.get(url, headers=auth_headers(alice)).json["status"] == "cancelled"


def test_an_answer_read_while_its_job_changed_is_not_kept(
    client: flask.testing.FlaskClient, services: Services, transport: CountingTransport, alice: Caller
) -> None:
    """The read returns the job as it was; before it is answered the job changes and the feed hears it.
    That answer goes to this request (it was current when read), but the next request reads again."""
    job_id = _submit(client, alice)
    _vouching(services)
    heard = Counter[uuid.UUID | None]()
    services.job_changes.watch(lambda job: heard.update([job]))

    def change_and_wait_for_its_notification() -> None:
        services.control_plane.add_job_warning(uuid.UUID(job_id), "offline_model", "no model")
        wait_for(lambda: heard[uuid.UUID(job_id)] > 0, 10, "the warning's notification")

    transport.during_get_job = change_and_wait_for_its_notification
    url = f"{JOBS}/{job_id}"
    stale = client.get(url, headers=auth_headers(alice))
    assert stale.status_code == 200 and stale.json["warnings"] == []
    assert services.job_answers.held() == 0, "not kept: the job changed while it was read"
    fresh = client.get(url, headers=auth_headers(alice))
    assert fresh.json["warnings"] == [{"code": "offline_model", "message": "no model"}]


@pytest.fixture
def listener_role(pg_cluster: LocalPostgres) -> Iterator[tuple[str, str]]:
    """A login role of its own for the listening connection, so that the test can cut it off (and keep it
    off) while the RPCs' connections stay up: (name, password)."""
    name, password = f"listener_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"create role {name} login password '{password}'")
    yield name, password
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (name,))
        admin.execute(f"drop role {name}")


def test_while_the_listening_connection_is_lost_nothing_is_kept_or_served(
    db_dsn: str, pg_cluster: LocalPostgres, listener_role: tuple[str, str], tmp_path: Path, alice: Caller
) -> None:
    name, password = listener_role
    transport = CountingTransport(
        db_dsn, listen_dsn=make_conninfo(db_dsn, user=name, password=password), max_size=4
    )
    services = make_services(ControlPlane(transport), tmp_path)
    client = create_app(lambda: services).test_client()
    try:
        job_id = _submit(client, alice)
        url = f"{JOBS}/{job_id}"
        _vouching(services)
        client.get(url, headers=auth_headers(alice))
        assert services.job_answers.held() == 1
        with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as admin:
            admin.execute(f"alter role {name} nologin")  # it cannot come back until the test lets it
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (name,)
            )
            changes = services.job_changes
            assert isinstance(changes, ListenedChanges)
            wait_for(lambda: not changes.listening.is_set(), 10, "the feed to notice the loss")
            assert services.job_answers.held() == 0, "a lost feed drops every answer"
            # A change now notifies nobody: every request reads it, and nothing is kept.
            services.control_plane.add_job_warning(uuid.UUID(job_id), "offline_model", "no model")
            reads = transport.calls["get_job"]
            for _ in range(2):
                answer = client.get(url, headers=auth_headers(alice))
                assert answer.json["warnings"] == [{"code": "offline_model", "message": "no model"}]
            assert transport.calls["get_job"] == reads + 2 and services.job_answers.held() == 0
            admin.execute(f"alter role {name} login")
        _vouching(services)  # reconnected, and a probe heard
        reads = transport.calls["get_job"]
        client.get(url, headers=auth_headers(alice))
        client.get(url, headers=auth_headers(alice))
        assert transport.calls["get_job"] == reads + 1, "kept again once the feed vouches"
    finally:
        services.close()
        transport.close()


def test_a_change_made_by_another_process_is_shown_once_its_notification_arrives(
    client: flask.testing.FlaskClient,
    services: Services,
    transport: CountingTransport,
    alice: Caller,
    db_dsn: str,
) -> None:
    """A worker in another process changes the job through its own connection: this process's kept
    answer goes with the notification, and the next poll reads and shows the change."""
    job_id = _submit(client, alice)
    _vouching(services)
    url = f"{JOBS}/{job_id}"
    first = client.get(url, headers=auth_headers(alice))
    assert first.json["warnings"] == [] and services.job_answers.held() == 1
    worker = (
        "import sys, uuid\n"
        "from appgen.gateway import ControlPlane, PostgresTransport\n"
        "transport = PostgresTransport(sys.argv[1])\n"
        "ControlPlane(transport).add_job_warning(uuid.UUID(sys.argv[2]), 'offline_model', 'no model')\n"
        "transport.close()\n"
    )
    subprocess.run([sys.executable, "-c", worker, db_dsn, job_id], check=True, timeout=60, cwd=REPO_ROOT)
    wait_for(lambda: services.job_answers.held() == 0, 10, "the other process's notification")
    reads = transport.calls["get_job"]
    answer = client.get(url, headers={**auth_headers(alice), "If-None-Match": first.headers["ETag"]})
    assert answer.status_code == 200 and answer.json["warnings"] == [
        {"code": "offline_model", "message": "no model"}
    ]
    assert answer.headers["ETag"] != first.headers["ETag"] and transport.calls["get_job"] == reads + 1


def test_while_the_probes_do_not_come_back_nothing_kept_is_served(
    client: flask.testing.FlaskClient,
    services: Services,
    transport: CountingTransport,
    alice: Caller,
    db_dsn: str,
) -> None:
    """The listening connection stays up but stops vouching (a pooler that drops notifications, a stalled
    peer): a change that notifies nobody is shown by every request, and once a probe is heard again every
    answer kept from before the silence is gone."""
    job_id = _submit(client, alice)
    _vouching(services)
    url = f"{JOBS}/{job_id}"
    assert client.get(url, headers=auth_headers(alice)).json["warnings"] == []
    assert services.job_answers.held() == 1
    transport.probes_lost = True
    changes = services.job_changes
    wait_for(lambda: not changes.vouches(), 10, "the feed to stop vouching")
    assert isinstance(changes, ListenedChanges) and changes.listening.is_set(), "the connection is still up"
    # A change nobody hears: the job's triggers off (no version raised, no notification sent).
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute("set session_replication_role = replica")
        conn.execute(
            "update public.app_generation_jobs set warnings = %s::jsonb where id = %s",
            ('[{"code": "unheard", "message": "changed silently"}]', job_id),
        )
    reads = transport.calls["get_job"]
    for _ in range(2):
        answer = client.get(url, headers=auth_headers(alice))
        assert answer.status_code == 200 and answer.json["warnings"] == [
            {"code": "unheard", "message": "changed silently"}
        ], "a kept answer was served while the feed did not vouch"
    assert transport.calls["get_job"] == reads + 2
    transport.probes_lost = False
    wait_for(changes.vouches, 10, "the feed to vouch again")
    assert services.job_answers.held() == 0, "the first probe after a silence drops every answer"
    client.get(url, headers=auth_headers(alice))
    client.get(url, headers=auth_headers(alice))
    assert transport.calls["get_job"] == reads + 3, "kept again once the feed vouches"


def test_download_links_are_never_kept(
    client: flask.testing.FlaskClient,
    services: Services,
    transport: CountingTransport,
    alice: Caller,
    bob: Caller,
) -> None:
    """Each download request goes through request_download (the owner check, the artifact's state) and
    is signed for itself, whatever the status route keeps; the job object holds no link."""
    job_id = _submit(client, alice)
    complete_job(services, job_id)
    _vouching(services)
    url = f"{JOBS}/{job_id}"
    job = client.get(url, headers=auth_headers(alice)).json
    assert job["status"] == "completed" and services.job_answers.held() == 1
    assert "url" not in json.dumps(job).lower()
    for _ in range(2):
        link = client.post(f"{url}/download", headers=auth_headers(alice))
        assert link.status_code == 200 and link.json["url"].startswith("http://testserver/")
        refused = client.post(f"{url}/download", headers=auth_headers(bob))
        assert refused.status_code == 404 and refused.json["error"]["code"] == "not_found"
    assert transport.calls["request_download"] == 4, "every download request asked the database"
    assert services.job_answers.held() == 1
