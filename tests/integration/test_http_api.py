"""The public HTTP API through the local stack's WSGI app, on a real database: status codes and bodies,
authentication, ownership (404 for foreign jobs), validation errors with field paths, downloads.

Every test runs over both control-plane transports, `[postgres]` (psycopg) and `[rest]` (Supabase's REST
API, answered by tests/integration/postgrest.py from the same database), so their behaviour cannot drift
apart.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import flask
import flask.testing
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appgen import auth, errors
from appgen.gateway import Caller, ControlPlane, RestTransport, RpcTransport
from appgen.localstack.server import create_app
from appgen.logs import JsonFormatter
from appgen.policy import POLICY
from appgen.services import Services
from appgen.settings import LOCAL_JWT_SECRET
from appgen.storage import LocalObjectStore
from tests.fixtures.specs import small_spec
from tests.fixtures.tokens import hs256, token_claims
from tests.fixtures.waiting import wait_for
from tests.integration.apitest import (
    JOBS,
    auth_headers,
    complete_job,
    execute,
    expire_artifact,
    job_object_changes,
    make_services,
)
from tests.integration.postgrest import ANON_KEY, SUPABASE_URL, TRANSPORTS, control_plane_over
from tests.integration.sse import PING, Stream, live_server

# A job id in test ids: the same in every pytest-xdist process.
SOME_JOB = uuid.UUID("3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f")


@pytest.fixture(params=TRANSPORTS)
def control_plane(request: pytest.FixtureRequest, db_dsn: str) -> Iterator[ControlPlane]:
    with control_plane_over(request.param, db_dsn) as plane:
        yield plane


@pytest.fixture
def services(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Services]:
    built = make_services(control_plane, tmp_path)
    yield built
    built.close()  # ends what an event stream started (its listening connection)


@pytest.fixture
def client(services: Services) -> Iterator[flask.testing.FlaskClient]:
    yield create_app(lambda: services).test_client()


def test_submit_returns_202_with_the_job_and_enqueues_its_start(
    client: flask.testing.FlaskClient, services: Services, alice: Caller
) -> None:
    spec = small_spec(2)
    response = client.post(JOBS, json=spec, headers=auth_headers(alice))
    assert response.status_code == 202, response.json
    job_id = response.json["jobId"]
    assert uuid.UUID(job_id)
    messages = services.dispatcher.messages  # type: ignore[attr-defined]
    assert [(m.queue, m.target, m.payload) for m in messages] == [
        ("app-gen-orchestrator", "orchestrate", {"jobId": job_id})
    ]

    status = client.get(f"{JOBS}/{job_id}", headers=auth_headers(alice))
    assert status.status_code == 200
    body = status.json
    assert body["jobId"] == job_id and body["status"] == "queued" and body["stage"] == "queued"
    assert body["projectId"] == spec["projectId"]
    assert body["progress"] == {
        "percent": 0,
        "pagesDone": 0,
        "pagesTotal": 2,
        "fixRound": 0,
        "maxFixRounds": 4,
    }
    assert body["warnings"] == [] and body["error"] is None and body["artifact"] is None
    assert body["createdAt"].endswith("Z") and body["startedAt"] is None
    listed = client.get(f"{JOBS}?projectId={spec['projectId']}", headers=auth_headers(alice))
    assert listed.status_code == 200 and listed.json == {"jobs": [body]}


def test_status_etag_answers_304_when_unchanged(client: flask.testing.FlaskClient, alice: Caller) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    first = client.get(f"{JOBS}/{job_id}", headers=auth_headers(alice))
    etag = first.headers["ETag"]
    again = client.get(f"{JOBS}/{job_id}", headers={**auth_headers(alice), "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "private, no-cache"
    weak = client.get(f"{JOBS}/{job_id}", headers={**auth_headers(alice), "If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304 and weak.headers["ETag"] == etag


def test_a_changed_job_answers_its_new_state_to_an_old_etag_at_once(
    client: flask.testing.FlaskClient, services: Services, alice: Caller, db_dsn: str
) -> None:
    """The 304 compares versions only: every change the job object shows must answer 200 with the new
    object and a new ETag on the next request (a step, a warning, the artifact, retention), once this
    process heard the job's change notification (appgen/gateway/answers.py; milliseconds)."""
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    url = f"{JOBS}/{job_id}"
    etag = client.get(url, headers=auth_headers(alice)).headers["ETag"]
    changes = job_object_changes(services, job_id, db_dsn)
    for name, change, shows in changes:
        change()
        wait_for(lambda: services.job_answers.held() == 0, 10, f"the notification of {name}")
        answer = client.get(url, headers={**auth_headers(alice), "If-None-Match": etag})
        assert answer.status_code == 200, (name, answer.status_code)
        assert shows(answer.json), (name, answer.json)
        assert answer.headers["ETag"] != etag, name
        etag = answer.headers["ETag"]
        unchanged = client.get(url, headers={**auth_headers(alice), "If-None-Match": etag})
        assert unchanged.status_code == 304, name


def test_another_users_etag_probe_answers_404_not_304(
    client: flask.testing.FlaskClient, alice: Caller, bob: Caller
) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    etag = client.get(f"{JOBS}/{job_id}", headers=auth_headers(alice)).headers["ETag"]
    probe = client.get(f"{JOBS}/{job_id}", headers={**auth_headers(bob), "If-None-Match": etag})
    assert probe.status_code == 404 and probe.json["error"]["code"] == "not_found"
    assert "ETag" not in probe.headers
    unknown = client.get(f"{JOBS}/{uuid.uuid4()}", headers={**auth_headers(alice), "If-None-Match": etag})
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "not_found"


def test_idempotent_replay_answers_200_with_the_same_job(
    client: flask.testing.FlaskClient, alice: Caller
) -> None:
    spec = small_spec(1)
    headers = {**auth_headers(alice), "Idempotency-Key": "abc"}
    first = client.post(JOBS, json=spec, headers=headers)
    second = client.post(JOBS, json=spec, headers=headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json == second.json
    other = dict(spec, globalNotes="changed")
    conflict = client.post(JOBS, json=other, headers=headers)
    assert conflict.status_code == 409 and conflict.json["error"]["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Basic abc"}, "missing_token"),
        ({"Authorization": "Bearer not-a-jwt"}, "invalid_token"),
        ({"Authorization": "Bearer " + auth.mint_user_token(uuid.uuid4(), "x" * 40)}, "invalid_token"),
        (
            {
                "Authorization": "Bearer "
                + auth.mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET, ttl_seconds=-10)
            },
            "token_expired",
        ),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", JOBS),
        ("GET", JOBS),
        ("GET", f"{JOBS}/{SOME_JOB}"),
        ("GET", f"{JOBS}/{SOME_JOB}/logs"),
        ("POST", f"{JOBS}/{SOME_JOB}/download"),
        ("POST", f"{JOBS}/{SOME_JOB}/cancel"),
    ],
    ids=["submit", "list", "status", "logs", "download", "cancel"],
)
def test_every_public_route_needs_a_valid_token(
    client: flask.testing.FlaskClient, headers: dict[str, str], code: str, method: str, path: str
) -> None:
    response = client.open(path, method=method, headers=headers, json=small_spec(1))
    assert response.status_code == 401
    assert response.json["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "token",
    [
        hs256(token_claims(), {"alg": ["HS256"], "typ": "JWT"}),  # used to answer 500 (TypeError)
        hs256(token_claims(sub="urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427")),  # reached Postgres' cast
        hs256(token_claims(sub="service")),
        hs256(token_claims(exp="4102444800")),  # PyJWT read the string as a number
    ],
    ids=["alg-list", "sub-urn", "sub-text", "exp-string"],
)
def test_validly_signed_tokens_with_malformed_claims_answer_401(
    client: flask.testing.FlaskClient, token: str
) -> None:
    for method, path in (("GET", JOBS), ("POST", JOBS), ("GET", f"{JOBS}/{uuid.uuid4()}")):
        response = client.open(
            path, method=method, json=small_spec(1), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, (path, response.get_data(as_text=True))
        assert response.json["error"]["code"] == "invalid_token"


def test_requests_without_a_valid_token_are_limited_per_address_before_verification(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller
) -> None:
    services = make_services(control_plane, tmp_path, rate_limit_per_minute=3)
    client = create_app(lambda: services).test_client()
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic abc"}):
        assert client.get(JOBS, headers=headers).status_code == 401
    # The address spent its bucket on failures: now even a valid token is refused before it is looked at,
    # on every route that takes a token.
    job = f"{JOBS}/{uuid.uuid4()}"
    for method, path in (("GET", JOBS), ("POST", JOBS), ("GET", job), ("POST", f"{job}/cancel")):
        refused = client.open(path, method=method, json=small_spec(1), headers=auth_headers(alice))
        assert refused.status_code == 429, (method, path)
        assert refused.json["error"] == {
            "code": "rate_limited",
            "message": "at most 3 requests per minute without a valid access token from one address; "
            "try again in 20 s",
        }
        assert refused.headers["Retry-After"] == "20"
    other = client.get(JOBS, headers=auth_headers(alice), environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200, other.json


def test_valid_tokens_do_not_spend_their_address_bucket(control_plane: ControlPlane, tmp_path: Path) -> None:
    services = make_services(control_plane, tmp_path, rate_limit_per_minute=3)
    client = create_app(lambda: services).test_client()
    for _ in range(8):  # many users behind one address (an office, a carrier's NAT)
        user = Caller.user({"sub": str(uuid.uuid4())})
        assert client.get(JOBS, headers=auth_headers(user)).status_code == 200


def test_on_cloud_run_the_address_is_the_right_most_forwarded_entry(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    services = make_services(control_plane, tmp_path, rate_limit_per_minute=2, behind_google_front_end=True)
    client = create_app(lambda: services).test_client()

    def attempt(forwarded: str) -> int:
        headers = {"Authorization": "Bearer not-a-jwt", "X-Forwarded-For": forwarded}
        return client.get(JOBS, headers=headers).status_code

    # Entries before the right-most are the client's own words: rotating them buys nothing.
    assert [attempt(f"10.0.0.{i}, 203.0.113.5") for i in range(4)] == [401, 401, 429, 429]
    assert attempt("203.0.113.6") == 401  # Google's front end saw another client
    assert attempt("10.0.0.1,203.0.113.5") == 429


def test_a_rate_limit_of_zero_limits_nothing(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller
) -> None:
    services = make_services(control_plane, tmp_path, rate_limit_per_minute=0)
    client = create_app(lambda: services).test_client()
    for _ in range(150):  # past the default burst of 120
        assert client.get(JOBS, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
        assert client.get(JOBS, headers=auth_headers(alice)).status_code == 200


def test_service_role_tokens_are_not_user_tokens(client: flask.testing.FlaskClient) -> None:
    import jwt

    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "role": "service_role", "aud": "authenticated", "exp": 2**40},
        LOCAL_JWT_SECRET,
        algorithm="HS256",
    )
    response = client.get(JOBS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("suffix", ["", "/logs"])
def test_other_users_jobs_answer_404(
    client: flask.testing.FlaskClient, alice: Caller, bob: Caller, suffix: str
) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    response = client.get(f"{JOBS}/{job_id}{suffix}", headers=auth_headers(bob))
    assert response.status_code == 404
    assert response.json["error"] == {"code": "not_found", "message": "No such job."}
    for action in ("download", "cancel"):
        post = client.post(f"{JOBS}/{job_id}/{action}", headers=auth_headers(bob))
        assert post.status_code == 404 and post.json["error"]["code"] == "not_found"
    assert client.get(JOBS, headers=auth_headers(bob)).json == {"jobs": []}


def test_unknown_and_malformed_job_ids_answer_404(client: flask.testing.FlaskClient, alice: Caller) -> None:
    # "%0A": a newline, which Flask's own routing does not match (it used to answer an HTML 404 page).
    for job_id in (str(uuid.uuid4()), "not-a-uuid", "abc%0A", "%F2%8E%8F%B1%0C"):
        for path in (f"{JOBS}/{job_id}", f"{JOBS}/{job_id}/logs"):
            response = client.get(path, headers=auth_headers(alice))
            assert response.status_code == 404, path
            assert response.json is not None and response.json["error"]["code"] == "not_found", path


def test_a_trailing_newline_matches_no_route(client: flask.testing.FlaskClient, alice: Caller) -> None:
    # A `$` in a route pattern also matches before a final newline: "jobs%0A" used to list the jobs.
    for path in (f"{JOBS}%0A", f"{JOBS}/%0A", "/healthz%0A", "/openapi.json%0A"):
        response = client.get(path, headers=auth_headers(alice))
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "not_found", path


ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + d) for d in range(10)))


def test_ids_and_numbers_take_ascii_digits_only(client: flask.testing.FlaskClient, alice: Caller) -> None:
    spec = small_spec(1)
    job_id = client.post(JOBS, json=spec, headers=auth_headers(alice)).json["jobId"]
    # `uuid.UUID` reads any Unicode digit: this spelling used to answer with the job itself.
    for spelling in (job_id.translate(ARABIC_INDIC), job_id.replace("-", ""), f"{{{job_id}}}"):
        for path in (f"{JOBS}/{spelling}", f"{JOBS}/{spelling}/logs"):
            response = client.get(path, headers=auth_headers(alice))
            assert (response.status_code, response.json["error"]["code"]) == (404, "not_found"), path
    assert client.get(f"{JOBS}/{job_id.upper()}", headers=auth_headers(alice)).json["jobId"] == job_id
    project = spec["projectId"].translate(ARABIC_INDIC)
    for query, field in ((f"projectId={project}", "query.projectId"), ("limit=\u0665", "query.limit")):
        response = client.get(f"{JOBS}?{query}", headers=auth_headers(alice))
        assert response.status_code == 400, query
        assert response.json["error"]["details"][0]["path"] == field
    after = client.get(f"{JOBS}/{job_id}/logs?after=\u0661", headers=auth_headers(alice))
    assert after.status_code == 400 and after.json["error"]["details"][0]["path"] == "query.after"


def test_invalid_spec_names_every_failing_field(client: flask.testing.FlaskClient, alice: Caller) -> None:
    spec = small_spec(2)
    spec["pages"][0]["route"] = "no-slash"
    spec["pages"][1]["pageId"] = "Bad Id"
    del spec["brief"]["title"]
    spec["unexpected"] = 1
    response = client.post(JOBS, json=spec, headers=auth_headers(alice))
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "invalid_spec"
    paths = sorted(d["path"] for d in error["details"])
    assert paths == ["brief.title", "pages[0].route", "pages[1].pageId", "unexpected"]


def test_duplicate_routes_are_refused(client: flask.testing.FlaskClient, alice: Caller) -> None:
    spec = small_spec(2)
    spec["pages"][1]["route"] = "/"
    response = client.post(JOBS, json=spec, headers=auth_headers(alice))
    assert response.status_code == 400
    assert response.json["error"]["details"] == [
        {"path": "(body)", "message": "Value error, route '/' is used by more than one page"}
    ]


# Specs the API refuses, each broken in one place, and the field path the database names for it.
def _broken(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value

    return change


REFUSED_SPECS = [
    (_broken("pages.1.pageId", "Not A Slug"), "pages[1].pageId"),
    (_broken("pages.1.pageId", "home"), "pages[1].pageId"),
    (_broken("pages.1.route", "/api/hook"), "pages[1].route"),
    (_broken("pages.1.route", "/"), "pages[1].route"),
    (_broken("pages.1.route", "/blog/[slug]"), "pages[1].route"),
    (_broken("pages.0.selectedPreviewHtml", "x" * 300_001), "pages[0].selectedPreviewHtml"),
    (_broken("pages.0.actions", ["signup", "signup"]), "pages[0].actions"),
    (_broken("pages.0.actions", [f"a{i}" for i in range(11)]), "pages[0].actions"),
    (_broken("pages.0.name", ""), "pages[0].name"),
    (_broken("brief.title", "t" * 201), "brief.title"),
    (_broken("globalNotes", "n" * 4001), "globalNotes"),
    (_broken("brief", "a string"), "brief"),
    (_broken("extra", True), "extra"),
]


def test_the_rpc_called_straight_refuses_what_the_api_refuses(
    client: flask.testing.FlaskClient, control_plane: ControlPlane, alice: Caller
) -> None:
    """Signed-in users can call submit_job straight through Supabase's REST API, past the API's checks:
    the database refuses the same specs, naming the field path. Over `[rest]` the spec is posted to
    PostgREST's RPC endpoint exactly as a browser with the user's token would; over `[postgres]` the RPC is
    called with the user's claims."""
    token = auth_headers(alice)["Authorization"].removeprefix("Bearer ")
    owner = Caller.user(dict(alice.claims or {}), token)
    for change, path in REFUSED_SPECS:
        spec = small_spec(2)
        change(spec)
        api = client.post(JOBS, json=spec, headers=auth_headers(alice))
        assert api.status_code == 400 and api.json["error"]["code"] == "invalid_spec", path

        if isinstance(control_plane.transport, RestTransport):
            rpc = httpx.post(
                f"{SUPABASE_URL}/rest/v1/rpc/submit_job",
                json={"p_spec": spec},
                headers={"apikey": ANON_KEY, "Authorization": f"Bearer {token}"},
            )
            assert rpc.status_code == 400, path
            body = rpc.json()
            assert body["code"] == "AGIV0" and body["message"].startswith(f"{path}: "), (path, body)
            assert path in [problem["path"] for problem in json.loads(body["details"])]
        with pytest.raises(errors.InvalidRequest) as refused:
            control_plane.submit_job(owner, spec, None)
        assert refused.value.message.startswith(f"{path}: "), (path, refused.value.message)
    assert control_plane.list_jobs(owner, None, 100) == []


def test_anonymous_users_cannot_submit_through_the_api_or_the_rpc(
    client: flask.testing.FlaskClient, control_plane: ControlPlane
) -> None:
    user = uuid.uuid4()
    token = auth.mint_user_token(user, LOCAL_JWT_SECRET, is_anonymous=True)
    api = client.post(JOBS, json=small_spec(1), headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 403 and api.json["error"]["code"] == "anonymous_user"
    claims = {"sub": str(user), "role": "authenticated", "is_anonymous": True}
    with pytest.raises(errors.AnonymousUser) as refused:
        control_plane.submit_job(Caller.user(claims, token), small_spec(1), None)
    assert refused.value.message == "anonymous users may not generate apps; sign in with an account first"
    assert refused.value.http_status == 403
    assert control_plane.list_jobs(Caller.user(claims, token), None, 10) == []  # they may still read


def test_body_errors_are_json(client: flask.testing.FlaskClient, alice: Caller) -> None:
    not_json = client.post(
        JOBS, data="{", headers={**auth_headers(alice), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and not_json.json["error"]["code"] == "invalid_request"
    wrong_type = client.post(JOBS, data="a=b", headers={**auth_headers(alice), "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and wrong_type.json["error"]["code"] == "unsupported_media_type"
    too_big = client.post(
        JOBS,
        data=b"x" * (3 * 1024 * 1024 + 1),
        headers={**auth_headers(alice), "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413 and too_big.json["error"]["code"] == "payload_too_large"
    array = client.post(JOBS, json=[1, 2], headers=auth_headers(alice))
    assert array.status_code == 400 and array.json["error"]["code"] == "invalid_spec"


@pytest.mark.parametrize("key", ["", "k" * 201, "a\x00b", "tab\there", "\x7f"])
def test_malformed_idempotency_keys_answer_400(
    client: flask.testing.FlaskClient, alice: Caller, key: str
) -> None:
    # A NUL used to reach Postgres, which cannot store it in text: 500.
    response = client.post(JOBS, json=small_spec(1), headers={**auth_headers(alice), "Idempotency-Key": key})
    if key == "":
        assert response.status_code == 202  # an empty header is no key
        return
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"] == [
        {"path": "header.Idempotency-Key", "message": "bad length or character"}
    ]


def test_quota_answers_429_with_retry_after(client: flask.testing.FlaskClient, alice: Caller) -> None:
    for _ in range(5):
        assert client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).status_code == 202
    response = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice))
    assert response.status_code == 429
    assert response.json["error"]["code"] == "quota_exceeded"
    assert 86000 < int(response.headers["Retry-After"]) <= 86400


def test_download_before_completion_is_409(client: flask.testing.FlaskClient, alice: Caller) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    response = client.post(f"{JOBS}/{job_id}/download", headers=auth_headers(alice))
    assert response.status_code == 409 and response.json["error"]["code"] == "not_ready"


def test_download_of_a_completed_job_signs_its_zip_until_retention_deletes_it(
    client: flask.testing.FlaskClient, services: Services, alice: Caller, db_dsn: str
) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    complete_job(services, job_id)  # the worker's service-role calls, over the same transport
    job = client.get(f"{JOBS}/{job_id}", headers=auth_headers(alice)).json
    assert job["status"] == "completed" and job["artifact"]["sizeBytes"] == 22
    ready = client.post(f"{JOBS}/{job_id}/download", headers=auth_headers(alice))
    assert ready.status_code == 200 and ready.json["url"].startswith("http://testserver/files/")
    with client.get(ready.json["url"].removeprefix("http://testserver")) as zipped:
        assert zipped.status_code == 200 and zipped.data.startswith(b"PK")
    expire_artifact(db_dsn, job_id)
    gone = client.post(f"{JOBS}/{job_id}/download", headers=auth_headers(alice))
    assert gone.status_code == 410 and gone.json["error"]["code"] == "expired"


def test_cancel_returns_the_cancelled_job(client: flask.testing.FlaskClient, alice: Caller) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    response = client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(alice))
    assert response.status_code == 202
    assert response.json["status"] == "cancelled" and response.json["finishedAt"].endswith("Z")
    again = client.post(f"{JOBS}/{job_id}/cancel", headers=auth_headers(alice))
    assert again.status_code == 409 and again.json["error"]["code"] == "illegal_transition"


def test_logs_query_parameters_are_validated(client: flask.testing.FlaskClient, alice: Caller) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    ok = client.get(f"{JOBS}/{job_id}/logs", headers=auth_headers(alice))
    assert ok.status_code == 200 and ok.json == {"logs": [], "nextCursor": None}
    bad = client.get(f"{JOBS}/{job_id}/logs?limit=0", headers=auth_headers(alice))
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["path"] == "query.limit"


def test_logs_paginate_with_a_cursor(
    client: flask.testing.FlaskClient, services: Services, alice: Caller
) -> None:
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    for i in range(3):
        services.control_plane.append_job_log(uuid.UUID(job_id), None, "info", "validate", f"line {i}")
    first = client.get(f"{JOBS}/{job_id}/logs?limit=2", headers=auth_headers(alice))
    assert first.status_code == 200
    assert [e["message"] for e in first.json["logs"]] == ["line 0", "line 1"] and first.json["nextCursor"]
    assert first.json["logs"][0]["at"].endswith("Z")
    after = first.json["nextCursor"]
    rest = client.get(f"{JOBS}/{job_id}/logs?limit=2&after={after}", headers=auth_headers(alice))
    assert rest.status_code == 200
    assert [e["message"] for e in rest.json["logs"]] == ["line 2"] and rest.json["nextCursor"] is None


def test_routing_errors_are_json(client: flask.testing.FlaskClient, alice: Caller) -> None:
    assert client.get("/nope", headers=auth_headers(alice)).json["error"]["code"] == "not_found"
    wrong = client.delete(JOBS, headers=auth_headers(alice))
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "method_not_allowed"
    assert client.get("/healthz").json == {"status": "ok"}


def test_cors_for_configured_origins_only(client: flask.testing.FlaskClient) -> None:
    preflight = client.options(
        JOBS, headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    other = client.options(JOBS, headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_internal_endpoints_refuse_user_tokens(client: flask.testing.FlaskClient, alice: Caller) -> None:
    for path in ("/internal/worker", "/internal/orchestrate", "/internal/cleanup"):
        response = client.post(path, json={"taskId": str(uuid.uuid4())}, headers=auth_headers(alice))
        assert response.status_code == 403, path
        assert response.json["error"]["code"] == "forbidden"
    assert client.post("/internal/worker", json={}).status_code == 401


@pytest.mark.parametrize("payload", [[1, 2], "text", 7, {"taskId": ["x"]}, {"taskId": "\u0661" * 32}])
def test_internal_endpoints_refuse_malformed_payloads_with_400(
    client: flask.testing.FlaskClient, payload: object
) -> None:
    headers = {"Authorization": f"Bearer {auth.mint_internal_token('s' * 32)}"}
    response = client.post("/internal/worker", json=payload, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] == {
        "code": "invalid_request",
        "message": "the task payload needs a UUID taskId",
    }


def test_signed_download_urls_refuse_tampering_and_expiry(
    services: Services, client: flask.testing.FlaskClient, tmp_path: Path
) -> None:
    source = tmp_path / "app.zip"
    source.write_bytes(b"PK fake zip")
    services.artifacts.upload("generated-apps", "u/p/j/app.zip", source)
    good = services.artifacts.signed_url("generated-apps", "u/p/j/app.zip").url.removeprefix(
        "http://testserver"
    )
    with client.get(good) as response:
        assert response.status_code == 200 and response.data == b"PK fake zip"
        assert response.headers["Content-Type"] == "application/zip"
    tampered = good.replace("u/p/j", "u/p/k")
    assert client.get(tampered).status_code == 403
    expired = services.artifacts.signed_url("generated-apps", "u/p/j/app.zip", ttl_seconds=-1).url
    response = client.get(expired.removeprefix("http://testserver"))
    assert response.status_code == 403 and "expired" in response.json["error"]["message"]


def _stored_link(services: Services, tmp_path: Path) -> tuple[LocalObjectStore, str]:
    source = tmp_path / "app.zip"
    source.write_bytes(b"PK fake zip")
    services.artifacts.upload("generated-apps", "u/p/j/app.zip", source)
    store = services.artifacts
    assert isinstance(store, LocalObjectStore)
    return store, store.signed_url("generated-apps", "u/p/j/app.zip").url.removeprefix("http://testserver")


def test_a_signed_link_that_outlives_the_policy_is_refused_when_served(
    services: Services, client: flask.testing.FlaskClient, tmp_path: Path
) -> None:
    store, _ = _stored_link(services, tmp_path)
    # Validly signed (as anyone holding the key, or a caller asking for a long ttl, could sign it), but
    # expiring further ahead than the 15 minutes of the policy.
    expires = int(time.time()) + POLICY.signed_url_ttl_seconds + 60
    signature = store._sign("generated-apps", "u/p/j/app.zip", expires)
    response = client.get(f"/files/generated-apps/u/p/j/app.zip?expires={expires}&signature={signature}")
    assert response.status_code == 403
    assert response.json["error"] == {
        "code": "forbidden",
        "message": "this download link claims to last longer than 15 minutes; request a new one",
    }
    # The stores are never asked for such a link in the first place.
    with pytest.raises(ValueError, match="at most 900 s"):
        store.signed_url("generated-apps", "u/p/j/app.zip", ttl_seconds=POLICY.signed_url_ttl_seconds + 1)


@pytest.mark.parametrize(
    ("expires", "signature"),
    [
        (None, "\u00e9" * 64),  # non-ASCII: compare_digest raised TypeError, Flask answered an HTML 500
        (None, "\u0661" * 64),
        (None, "A" * 64),
        (None, ""),
        ("+{expires}", None),
        (" {expires}", None),
        ("{expires}\n", None),
        ("\u0661", None),
        ("9" * 5000, None),
        ("", None),
    ],
    ids=[
        "signature-latin1",
        "signature-arabic-digits",
        "signature-upper-case",
        "signature-empty",
        "expires-plus",
        "expires-space",
        "expires-newline",
        "expires-arabic-digit",
        "expires-huge",
        "expires-empty",
    ],
)
def test_malformed_signed_links_answer_403_in_json(
    services: Services,
    client: flask.testing.FlaskClient,
    tmp_path: Path,
    expires: str | None,
    signature: str | None,
) -> None:
    _, link = _stored_link(services, tmp_path)
    path, _, query = link.partition("?")
    args = dict(pair.split("=", 1) for pair in query.split("&"))
    if expires is not None:
        args["expires"] = expires.format(expires=args["expires"])
    if signature is not None:
        args["signature"] = signature
    response = client.get(path, query_string=args)
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.json["error"] == {"code": "forbidden", "message": "this download link is not valid"}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.text(max_size=30),
    expires=st.none() | st.text(max_size=20) | st.integers().map(str),
    signature=st.none() | st.text(max_size=70) | st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_any_download_link_gets_a_json_answer_never_a_500(
    tmp_path: Path, path: str, expires: str | None, signature: str | None
) -> None:
    # Links are checked without the database, so no control plane runs here: a connection pool's
    # background threads draw from `random`, which hypothesis takes for a strategy using it (flaky).
    client = create_app(lambda: make_services(ControlPlane(_NoDatabase()), tmp_path)).test_client()
    args = {k: v for k, v in (("expires", expires), ("signature", signature)) if v is not None}
    response = client.get("/files/generated-apps/" + quote(path, safe="/"), query_string=args)
    assert response.status_code in (400, 403, 404), response.get_data(as_text=True)
    assert response.json is not None and response.json["error"]["code"] in (
        "invalid_request",
        "forbidden",
        "not_found",
    )


class _NoDatabase(RpcTransport):
    """A transport for requests that must never reach the control plane."""

    def call(self, function: str, args: dict[str, Any], caller: Caller) -> list[dict[str, Any]]:
        raise AssertionError(f"{function} was called")


# -- the job event stream (Server-Sent Events) over a real server ------------------------------------
def _streaming(control_plane: ControlPlane, tmp_path: Path, **settings: Any) -> Services:
    """Services for streaming tests: over REST the streams poll every 50 ms (2 s in production)."""
    return make_services(control_plane, tmp_path, events_poll_s=0.05, **settings)


def _events_path(job_id: str) -> str:
    return f"{JOBS}/{job_id}/events"


def test_events_start_with_the_job_then_its_lines_and_end_after_the_terminal_state(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller
) -> None:
    services = _streaming(control_plane, tmp_path)
    client = create_app(lambda: services).test_client()
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    append = services.control_plane.append_job_log
    append(uuid.UUID(job_id), None, "info", "queued", "before the stream")
    with live_server(services) as base:
        stream = Stream(base, _events_path(job_id), auth_headers(alice))
        assert stream.status == 200
        assert stream.response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
        assert stream.response.getheader("Cache-Control") == "no-cache, no-transform"
        assert stream.response.getheader("X-Accel-Buffering") == "no"
        events = stream.events()
        first, line = next(events), next(events)
        status = client.get(f"{JOBS}/{job_id}", headers=auth_headers(alice))
        assert (first.event, first.data) == ("job", status.json)  # exactly the status route's JSON
        assert (line.event, line.data["message"]) == ("log", "before the stream")
        logs = client.get(f"{JOBS}/{job_id}/logs", headers=auth_headers(alice)).json["logs"]
        assert line.data == logs[0]  # exactly the logs route's line

        append(uuid.UUID(job_id), None, "info", "queued", "while streaming")
        live = next(events)
        assert (live.event, live.data["message"]) == ("log", "while streaming")
        complete_job(services, job_id)  # every step of the job, as the workers would
        rest = list(events)  # until the server closes the stream
        final = client.get(f"{JOBS}/{job_id}", headers=auth_headers(alice)).json
    received = [first, line, live, *rest]
    assert received[-1].event == "job" and received[-1].data == final and final["status"] == "completed"
    assert [e.event for e in rest] == ["job"] * len(rest)  # the steps' states, never a repeated one
    assert len({json.dumps(e.data) for e in rest}) == len(rest)
    positions = [e.position for e in received]
    assert positions == sorted(positions) and len(set(positions)) == len(positions), positions
    assert services.streams.count() == 0


def test_last_event_id_resumes_without_repeating_or_losing_a_line(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller
) -> None:
    services = _streaming(control_plane, tmp_path)
    client = create_app(lambda: services).test_client()
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    job = uuid.UUID(job_id)
    for i in range(3):
        services.control_plane.append_job_log(job, None, "info", "queued", f"line {i}")
    with live_server(services) as base:
        first = Stream(base, _events_path(job_id), auth_headers(alice))
        before = first.take(3)  # the job and two lines; the connection drops there
        first.close()
        for i in range(3, 6):  # written while the client is away
            services.control_plane.append_job_log(job, None, "info", "queued", f"line {i}")
        again = Stream(base, _events_path(job_id), {**auth_headers(alice), "Last-Event-ID": before[-1].id})
        events = again.events()
        resumed = [next(events) for _ in range(5)]  # the job again, then the four lines after line 1
        complete_job(services, job_id)
        resumed += list(events)
        last = resumed[-1]
        done = Stream(base, _events_path(job_id), {**auth_headers(alice), "Last-Event-ID": last.id})
        assert (done.status, done.response.read()) == (204, b"")  # it has the end: EventSource stops
        behind = Stream(base, _events_path(job_id), {**auth_headers(alice), "Last-Event-ID": before[-1].id})
        assert behind.status == 200 and behind.take(1)[0].data["status"] == "completed"
        behind.close()
    assert [e.event for e in before] == ["job", "log", "log"]
    assert resumed[0].event == "job" and resumed[0].position >= before[-1].position
    lines = [e.data["message"] for e in before + resumed if e.event == "log"]
    assert lines == [f"line {i}" for i in range(6)], "every line exactly once, in order"
    assert last.event == "job" and last.data["status"] == "completed"
    positions = [e.position for e in resumed]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_a_strangers_or_unknown_jobs_events_answer_404_and_hold_nothing(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller, bob: Caller
) -> None:
    services = _streaming(control_plane, tmp_path)
    client = create_app(lambda: services).test_client()
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    with live_server(services) as base:
        for path, headers in (
            (_events_path(job_id), auth_headers(bob)),
            (_events_path(str(uuid.uuid4())), auth_headers(alice)),
            (_events_path("not-a-job"), auth_headers(alice)),
        ):
            refused = Stream(base, path, headers)
            assert refused.status == 404, path
            assert refused.json() == {"error": {"code": "not_found", "message": "No such job."}}
        assert services.streams.count() == 0
        bad = Stream(base, _events_path(job_id), {**auth_headers(alice), "Last-Event-ID": "7"})
        assert bad.status == 400 and bad.json()["error"]["details"][0]["path"] == "header.Last-Event-ID"
        anonymous = Stream(base, _events_path(job_id))
        assert anonymous.status == 401 and anonymous.json()["error"]["code"] == "missing_token"


def test_heartbeats_keep_a_quiet_stream_alive_until_its_lifetime_ends(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller
) -> None:
    services = _streaming(control_plane, tmp_path, events_heartbeat_s=0.2, events_lifetime_s=1.0)
    client = create_app(lambda: services).test_client()
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    with live_server(services) as base:
        stream = Stream(base, _events_path(job_id), auth_headers(alice))
        started = time.monotonic()
        received = list(stream.events())  # a queued job that never moves: the stream ends at its lifetime
        elapsed = time.monotonic() - started
    assert received[0].event == "job"
    assert received[1:] == [PING] * len(received[1:]) and 3 <= len(received) - 1 <= 6, received
    assert 0.9 <= elapsed < 3, elapsed
    assert services.streams.count() == 0


def test_each_user_holds_a_few_streams_and_gets_429_beyond(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller, bob: Caller
) -> None:
    services = _streaming(control_plane, tmp_path, events_per_user=2, events_heartbeat_s=0.1)
    client = create_app(lambda: services).test_client()
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    bobs = client.post(JOBS, json=small_spec(1), headers=auth_headers(bob)).json["jobId"]
    with live_server(services) as base:
        held = [Stream(base, _events_path(job_id), auth_headers(alice)) for _ in range(2)]
        assert [s.status for s in held] == [200, 200]
        refused = Stream(base, _events_path(job_id), auth_headers(alice))
        assert refused.status == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        retry_after = int(refused.response.getheader("Retry-After") or 0)
        assert 200 <= retry_after <= 240, retry_after  # when the first of the two reaches its lifetime
        other = Stream(base, _events_path(bobs), auth_headers(bob))
        assert other.status == 200, "the cap is per user"
        held[0].close()  # the server notices at its next write (a heartbeat) and frees the slot
        wait_for(lambda: services.streams.count(str((alice.claims or {})["sub"])) == 1, 5, "a freed slot")
        assert Stream(base, _events_path(job_id), auth_headers(alice)).status == 200


def test_the_token_may_come_as_a_query_parameter_and_is_never_logged(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller, bob: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    services = _streaming(control_plane, tmp_path, events_heartbeat_s=0.1)
    client = create_app(lambda: services).test_client()
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    token = auth_headers(alice)["Authorization"].removeprefix("Bearer ")
    user = (alice.claims or {})["sub"]
    expired = auth.mint_user_token(user, LOCAL_JWT_SECRET, ttl_seconds=-10)
    strangers = auth_headers(bob)["Authorization"].removeprefix("Bearer ")
    caplog.set_level(logging.DEBUG)  # every logger at every level,
    # werkzeug's access log included, whatever level an earlier test's `logs.configure()` left it at.
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    with live_server(services) as base:
        stream = Stream(base, f"{_events_path(job_id)}?access_token={token}")
        assert stream.status == 200 and stream.take(1)[0].data["jobId"] == job_id
        stream.close()
        for bad, code in ((expired, "token_expired"), (token[:-4] + "AAAA", "invalid_token")):
            refused = Stream(base, f"{_events_path(job_id)}?access_token={bad}")
            assert (refused.status, refused.json()["error"]["code"]) == (401, code)
        stranger = Stream(base, f"{_events_path(job_id)}?access_token={strangers}")
        assert stranger.status == 404
        # Only the event stream takes a token from the URL.
        status = Stream(base, f"{JOBS}/{job_id}?access_token={token}")
        assert (status.status, status.json()["error"]["code"]) == (401, "missing_token")
        wait_for(lambda: services.streams.count() == 0, 5, "the stream to close")
    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert sum("/events?access_token=[REDACTED] HTTP/1.1" in line for line in access) == 4, access
    lines = [JsonFormatter().format(r) for r in caplog.records] + [r.getMessage() for r in caplog.records]
    for secret in (token, expired, strangers):
        signature = secret.rsplit(".", 1)[1]
        assert not [line for line in lines if signature in line], "a token was logged"


def test_a_client_that_stops_reading_is_dropped_not_buffered(
    control_plane: ControlPlane, tmp_path: Path, alice: Caller, db_dsn: str
) -> None:
    services = _streaming(control_plane, tmp_path, events_write_timeout_s=0.5)
    client = create_app(lambda: services).test_client()
    job_id = client.post(JOBS, json=small_spec(1), headers=auth_headers(alice)).json["jobId"]
    with live_server(services) as base, socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that reads slowly, if ever
        sock.connect(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        request = f"GET {_events_path(job_id)} HTTP/1.1\r\nHost: x\r\n"
        request += f"Authorization: {auth_headers(alice)['Authorization']}\r\n\r\n"
        sock.sendall(request.encode())
        wait_for(lambda: services.streams.count() == 1, 5, "the stream to open")
        # 6 MB of lines in one statement (its trigger notifies like append_job_log's lines do).
        execute(
            db_dsn,
            "insert into public.app_generation_logs (job_id, owner_id, level, stage, message) "
            "select j.id, j.owner_id, 'info', 'pages', repeat('x', 20000) "
            "from public.app_generation_jobs j, generate_series(1, 300) where j.id = %s",
            job_id,
        )
        started = time.monotonic()
        wait_for(lambda: services.streams.count() == 0, 10, "the server to drop the client")
        dropped_after = time.monotonic() - started
        received = _everything(sock)  # what the socket buffers held, then the end of the connection
    assert received.startswith(b"HTTP/1.1 200 OK") and b"event: log" in received
    assert len(received) < 1_000_000, f"{len(received)} bytes of 6 MB reached a client that read nothing"
    assert dropped_after < 5, dropped_after


def _everything(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)
