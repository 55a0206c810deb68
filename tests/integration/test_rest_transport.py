"""The control-plane gateway over Supabase's REST API (PostgREST) behaves exactly as over Postgres.

The REST transport talks to `respx` routes that answer from the real local database: each RPC runs through
PostgresTransport as the caller the request's JWT names (the same role switch and claims PostgREST makes),
and the answer is PostgREST-shaped JSON — rows, bare scalars, `{code, message, details, hint}` errors. The
same API tests then run over both transports, so their behaviour cannot drift apart.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import flask.testing
import httpx
import jwt
import psycopg
import pytest
import respx

from appgen import errors
from appgen.gateway import Caller, ControlPlane, PostgresTransport, RestTransport
from appgen.localstack.server import create_app
from appgen.services import Services
from appgen.settings import LOCAL_JWT_SECRET
from tests.conftest import token_for, user_claims
from tests.fixtures.specs import small_spec
from tests.integration.apitest import JOBS, complete_job, expire_artifact, make_services

SUPABASE_URL = "https://project.supabase.test"
ANON_KEY = jwt.encode({"role": "anon", "iss": "supabase"}, LOCAL_JWT_SECRET, algorithm="HS256")
SERVICE_KEY = jwt.encode({"role": "service_role", "iss": "supabase"}, LOCAL_JWT_SECRET, algorithm="HS256")


class FakePostgrest:
    """PostgREST in front of the real test database, as a respx side effect."""

    def __init__(self, dsn: str):
        self.pg = PostgresTransport(dsn, max_size=4)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request, function: str) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("apikey") not in (ANON_KEY, SERVICE_KEY, "sb_secret_test"):
            return httpx.Response(401, json={"message": "Invalid API key"})
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ") or SERVICE_KEY
        try:
            claims = jwt.decode(bearer, LOCAL_JWT_SECRET, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.ExpiredSignatureError:
            return _error(401, "PGRST303", "JWT expired")
        except jwt.PyJWTError:
            return _error(401, "PGRST301", "JWT could not be decoded")
        caller = Caller.service() if claims.get("role") == "service_role" else Caller.user(claims)
        try:
            rows = self.pg.call(function, json.loads(request.content), caller)
        except errors.AppgenError as exc:
            cause = exc.__cause__
            assert isinstance(cause, psycopg.Error), exc
            diag = cause.diag
            return _error(
                400, cause.sqlstate or "", diag.message_primary, diag.message_hint, diag.message_detail
            )
        if len(rows) == 1 and list(rows[0]) == [function]:  # a scalar (or void) function: a bare value
            value = rows[0][function]
            return httpx.Response(200, content=json.dumps(None if value == "" else value))
        return httpx.Response(200, content=json.dumps(rows, default=_json), headers=_JSON)

    def close(self) -> None:
        self.pg.close()


_JSON = {"Content-Type": "application/json"}


def _json(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _error(
    status: int, code: str, message: str | None, hint: str | None = None, details: str | None = None
) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, "details": details, "hint": hint})


@pytest.fixture
def fake(db_dsn: str) -> Iterator[FakePostgrest]:
    server = FakePostgrest(db_dsn)
    with respx.mock(base_url=SUPABASE_URL, assert_all_called=False) as router:
        router.post(path__regex=r"^/rest/v1/rpc/(?P<function>[a-z_0-9]+)$").mock(side_effect=server)
        yield server
    server.close()


@pytest.fixture(params=["postgres", "rest"])
def plane(request: pytest.FixtureRequest, db_dsn: str) -> Iterator[ControlPlane]:
    fake: FakePostgrest | None = None
    if request.param == "postgres":
        transport: Any = PostgresTransport(db_dsn, max_size=4)
    else:
        fake = request.getfixturevalue("fake")
        transport = RestTransport(SUPABASE_URL, ANON_KEY, SERVICE_KEY)
    plane = ControlPlane(transport)
    yield plane
    transport.close()
    assert fake is None or fake.requests, "the REST variant never reached PostgREST"


@pytest.fixture
def services(plane: ControlPlane, tmp_path: Path) -> Services:
    return make_services(plane, tmp_path)


@pytest.fixture
def client(services: Services) -> flask.testing.FlaskClient:
    return create_app(lambda: services).test_client()


def _h(caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(caller)}"}


# -- the same API behaviour over both transports -------------------------------------------------------
def test_submit_status_and_list(client: flask.testing.FlaskClient, services: Services, alice: Caller) -> None:
    spec = small_spec(2)
    response = client.post(JOBS, json=spec, headers=_h(alice))
    assert response.status_code == 202, response.json
    job_id = response.json["jobId"]
    assert [m.payload for m in services.dispatcher.messages] == [{"jobId": job_id}]  # type: ignore[attr-defined]
    status = client.get(f"{JOBS}/{job_id}", headers=_h(alice))
    assert status.status_code == 200
    body = status.json
    assert (body["jobId"], body["projectId"], body["status"]) == (job_id, spec["projectId"], "queued")
    assert body["progress"]["pagesTotal"] == 2 and body["createdAt"].endswith("Z")
    again = client.get(f"{JOBS}/{job_id}", headers={**_h(alice), "If-None-Match": status.headers["ETag"]})
    assert again.status_code == 304
    listed = client.get(f"{JOBS}?projectId={spec['projectId']}", headers=_h(alice))
    assert listed.status_code == 200 and listed.json == {"jobs": [body]}


def test_idempotency(client: flask.testing.FlaskClient, alice: Caller) -> None:
    spec = small_spec(1)
    headers = {**_h(alice), "Idempotency-Key": "same"}
    first, second = (client.post(JOBS, json=spec, headers=headers) for _ in range(2))
    assert (first.status_code, second.status_code) == (202, 200) and first.json == second.json
    conflict = client.post(JOBS, json=dict(spec, globalNotes="other"), headers=headers)
    assert conflict.status_code == 409 and conflict.json["error"]["code"] == "idempotency_conflict"


def test_other_users_jobs_are_not_found(
    client: flask.testing.FlaskClient, alice: Caller, bob: Caller
) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=_h(alice)).json["jobId"]
    for method, suffix in (("GET", ""), ("GET", "/logs"), ("POST", "/download"), ("POST", "/cancel")):
        response = client.open(f"{JOBS}/{job_id}{suffix}", method=method, headers=_h(bob))
        assert response.status_code == 404, suffix
        assert response.json["error"]["code"] == "not_found"
    assert client.get(JOBS, headers=_h(bob)).json == {"jobs": []}


def test_quota_429_carries_the_database_retry_after(client: flask.testing.FlaskClient, alice: Caller) -> None:
    for _ in range(5):
        assert client.post(JOBS, json=small_spec(1), headers=_h(alice)).status_code == 202
    response = client.post(JOBS, json=small_spec(1), headers=_h(alice))
    assert response.status_code == 429 and response.json["error"]["code"] == "quota_exceeded"
    assert 86000 < int(response.headers["Retry-After"]) <= 86400


def test_cancel_then_illegal_transition(client: flask.testing.FlaskClient, alice: Caller) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=_h(alice)).json["jobId"]
    cancelled = client.post(f"{JOBS}/{job_id}/cancel", headers=_h(alice))
    assert cancelled.status_code == 202
    assert cancelled.json["status"] == "cancelled" and cancelled.json["finishedAt"].endswith("Z")
    again = client.post(f"{JOBS}/{job_id}/cancel", headers=_h(alice))
    assert again.status_code == 409 and again.json["error"]["code"] == "illegal_transition"


def test_download_not_ready_ready_and_expired(
    client: flask.testing.FlaskClient, services: Services, alice: Caller, db_dsn: str
) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=_h(alice)).json["jobId"]
    early = client.post(f"{JOBS}/{job_id}/download", headers=_h(alice))
    assert early.status_code == 409 and early.json["error"]["code"] == "not_ready"
    complete_job(services, job_id)  # the worker's service-role calls, over the same transport
    job = client.get(f"{JOBS}/{job_id}", headers=_h(alice)).json
    assert job["status"] == "completed" and job["artifact"]["sizeBytes"] == 22
    ready = client.post(f"{JOBS}/{job_id}/download", headers=_h(alice))
    assert ready.status_code == 200 and ready.json["url"].startswith("http://testserver/files/")
    with client.get(ready.json["url"].removeprefix("http://testserver")) as zipped:
        assert zipped.status_code == 200 and zipped.data.startswith(b"PK")
    expire_artifact(db_dsn, job_id)
    gone = client.post(f"{JOBS}/{job_id}/download", headers=_h(alice))
    assert gone.status_code == 410 and gone.json["error"]["code"] == "expired"


def test_logs_paginate_with_a_cursor(
    client: flask.testing.FlaskClient, services: Services, alice: Caller
) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=_h(alice)).json["jobId"]
    for i in range(3):
        services.control_plane.append_job_log(uuid.UUID(job_id), None, "info", "validate", f"line {i}")
    first = client.get(f"{JOBS}/{job_id}/logs?limit=2", headers=_h(alice)).json
    assert [e["message"] for e in first["logs"]] == ["line 0", "line 1"] and first["nextCursor"]
    assert first["logs"][0]["at"].endswith("Z")
    rest = client.get(f"{JOBS}/{job_id}/logs?limit=2&after={first['nextCursor']}", headers=_h(alice)).json
    assert [e["message"] for e in rest["logs"]] == ["line 2"] and rest["nextCursor"] is None


# -- the rows themselves are the same ------------------------------------------------------------------
def test_both_transports_return_equal_rows(db_dsn: str, fake: FakePostgrest) -> None:
    direct = ControlPlane(PostgresTransport(db_dsn, max_size=2))
    rest = ControlPlane(RestTransport(SUPABASE_URL, ANON_KEY, SERVICE_KEY))
    claims = user_claims()
    caller = Caller.user(claims, token_for(Caller.user(claims)))
    job_id, created = rest.submit_job(caller, small_spec(2), None)
    assert created and isinstance(job_id, uuid.UUID)
    assert rest.get_job(caller, job_id) == direct.get_job(caller, job_id)
    (start,) = rest.start_job(job_id)
    assert start.kind == "scaffold" and isinstance(start.task_id, uuid.UUID)
    assert start.task_id is not None
    task = rest.claim_task(start.task_id, 60)
    assert task is not None and isinstance(task.deadline_at, datetime)
    assert task.generation_spec["pages"][0]["pageId"] == "home"
    assert rest.job_is_active(job_id) is True and direct.job_is_active(job_id) is True
    rest.append_job_log(job_id, task.task_id, "info", "scaffold", "hello")
    assert rest.list_job_logs(caller, job_id, 0, 10) == direct.list_job_logs(caller, job_id, 0, 10)
    assert rest.list_jobs(caller, None, 10) == direct.list_jobs(caller, None, 10)
    direct.transport.close()


def test_user_calls_carry_the_users_token_and_service_calls_the_service_key(
    db_dsn: str, fake: FakePostgrest
) -> None:
    rest = RestTransport(SUPABASE_URL, ANON_KEY, SERVICE_KEY)
    caller = Caller.user(user_claims(), "x")
    caller = Caller.user(caller.claims or {}, token_for(caller))
    rest.call("list_jobs", {"p_project_id": None, "p_limit": 1}, caller)
    rest.call("list_artifacts_to_delete", {"p_limit": 1}, Caller.service())
    user_request, service_request = fake.requests
    assert user_request.headers["apikey"] == ANON_KEY
    assert user_request.headers["Authorization"] == f"Bearer {caller.token}"
    assert service_request.headers["apikey"] == SERVICE_KEY
    assert service_request.headers["Authorization"] == f"Bearer {SERVICE_KEY}"
    assert json.loads(user_request.content) == {"p_project_id": None, "p_limit": 1}
    secret = RestTransport(SUPABASE_URL, "sb_publishable_test", "sb_secret_test")
    secret.call("list_artifacts_to_delete", {"p_limit": 1}, Caller.service())
    assert "Authorization" not in fake.requests[-1].headers  # new secret keys go as apikey only
    with pytest.raises(errors.AppgenError, match="access token"):
        rest.call("list_jobs", {"p_project_id": None, "p_limit": 1}, Caller.user(user_claims()))


# -- errors PostgREST or the network can answer with ---------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "expected", "status"),
    [
        (httpx.ConnectError("refused"), errors.DependencyUnavailable, 503),
        (httpx.ReadTimeout("slow"), errors.DependencyUnavailable, 503),
        (httpx.Response(502, text="<html>Bad gateway</html>"), errors.DependencyUnavailable, 503),
        (_error(503, "PGRST001", "Database client error"), errors.DependencyUnavailable, 503),
        (
            _error(500, "57014", "canceling statement due to statement timeout"),
            errors.DependencyUnavailable,
            503,
        ),
        (_error(401, "PGRST303", "JWT expired"), errors.InvalidToken, 401),
        (_error(400, "22P02", "invalid input syntax for type uuid"), errors.AppgenError, 500),
        (httpx.Response(500, text="oops"), errors.AppgenError, 500),
        (_error(400, "AGQT0", "daily generation limit reached", hint="120"), errors.QuotaExceeded, 429),
    ],
)
def test_failures_map_to_the_same_domain_errors(answer: Any, expected: type, status: int) -> None:
    rest = RestTransport(SUPABASE_URL, ANON_KEY, SERVICE_KEY)
    claims = user_claims()
    caller = Caller.user(claims, token_for(Caller.user(claims)))
    with respx.mock(base_url=SUPABASE_URL) as router:
        route = router.post("/rest/v1/rpc/get_job")
        route.mock(side_effect=answer) if isinstance(answer, Exception) else route.mock(return_value=answer)
        with pytest.raises(errors.AppgenError) as raised:
            rest.call("get_job", {"p_job_id": uuid.uuid4()}, caller)
    assert type(raised.value) is expected and raised.value.http_status == status
    if expected is errors.QuotaExceeded:
        assert raised.value.retry_after == 120
    if expected is errors.DependencyUnavailable:
        assert raised.value.retry_after


def test_an_unreachable_supabase_answers_503_through_the_api(tmp_path: Path, alice: Caller) -> None:
    services = make_services(ControlPlane(RestTransport(SUPABASE_URL, ANON_KEY, SERVICE_KEY)), tmp_path)
    client = create_app(lambda: services).test_client()
    with respx.mock(base_url=SUPABASE_URL) as router:
        router.post(path__regex=r"^/rest/v1/rpc/").mock(side_effect=httpx.ConnectError("refused"))
        response = client.post(JOBS, json=small_spec(1), headers=_h(alice))
        status = client.get(f"{JOBS}/{uuid.uuid4()}", headers=_h(alice))
    assert response.status_code == 503 and response.json["error"]["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0 and status.status_code == 503
    assert services.dispatcher.messages == []  # type: ignore[attr-defined]  # nothing half-done
