"""What is particular to the control-plane gateway over Supabase's REST API (PostgREST): the rows it
returns equal Postgres's, the keys and tokens each call carries, and how PostgREST's and the network's
failures map to domain errors.

The HTTP API suite itself runs over both transports (test_http_api.py's `control_plane` fixture), against
the `FakePostgrest` in tests/integration/postgrest.py that answers from the real test database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from appgen import errors
from appgen.gateway import Caller, ControlPlane, PostgresTransport, RestTransport
from appgen.localstack.server import create_app
from tests.conftest import token_for, user_claims
from tests.fixtures.specs import small_spec
from tests.integration.apitest import JOBS, auth_headers, make_services
from tests.integration.postgrest import (
    ANON_KEY,
    SERVICE_KEY,
    SUPABASE_URL,
    FakePostgrest,
    fake_postgrest,
    postgrest_error,
)


@pytest.fixture
def fake(db_dsn: str) -> Iterator[FakePostgrest]:
    with fake_postgrest(db_dsn) as server:
        yield server


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
        (postgrest_error(503, "PGRST001", "Database client error"), errors.DependencyUnavailable, 503),
        (
            postgrest_error(500, "57014", "canceling statement due to statement timeout"),
            errors.DependencyUnavailable,
            503,
        ),
        (postgrest_error(401, "PGRST303", "JWT expired"), errors.InvalidToken, 401),
        (postgrest_error(400, "22P02", "invalid input syntax for type uuid"), errors.AppgenError, 500),
        (httpx.Response(500, text="oops"), errors.AppgenError, 500),
        (
            postgrest_error(400, "AGQT0", "daily generation limit reached", hint="120"),
            errors.QuotaExceeded,
            429,
        ),
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
        response = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice))
        status = client.get(f"{JOBS}/{uuid.uuid4()}", headers=auth_headers(alice))
    assert response.status_code == 503 and response.json["error"]["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0 and status.status_code == 503
    assert services.dispatcher.messages == []  # type: ignore[attr-defined]  # nothing half-done
