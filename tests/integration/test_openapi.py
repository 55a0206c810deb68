"""`openapi.yaml` is the contract frontends build on; these tests keep it equal to the handlers: the same
routes, every error code at the status it is sent with, the spec schema generated from the pydantic model,
and real answers of the API (on a real database) validating against it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask.testing
import pytest
import schemathesis
from schemathesis.core.failures import FailureGroup

from appgen import errors, http_api, request_parsing, spec
from appgen.gateway import Caller, ControlPlane
from appgen.localstack.server import create_app
from appgen.services import Services
from appgen.status import JobStatus
from tests.fixtures.specs import small_spec
from tests.integration.apitest import JOBS, auth_headers, complete_job, expire_artifact, make_services

DOC = http_api.openapi_document()
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
# Codes of AppgenError subclasses the documented routes never send: worker-side (`step_failed`), the CLI
# client's own (`http_error`), an abstract base (`conflict`: its subclasses are sent), and `forbidden`,
# which only internal endpoints and signed download links (Supabase Storage in the cloud) answer, and
# `unsafe_archive`, which only the builder service answers (to the worker).
NOT_PUBLIC = {"http_error", "conflict", "forbidden", "unsafe_archive"}
SPEC_MODELS = ("GenerationSpec", "Brief", "Style", "PaletteColor", "FontChoice", "Page")


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOC["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method.upper(), item[method]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _codes(schema: dict[str, Any]) -> set[str]:
    """The error codes an error schema allows (`const`/`enum` of `error.code` in its allOf parts)."""
    found: set[str] = set()
    for part in _resolve(schema).get("allOf", []):
        code = part.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
        found |= {code["const"]} if "const" in code else set(code.get("enum", []))
    return found


def _error_classes() -> list[type[errors.AppgenError]]:
    seen, stack = [], [errors.AppgenError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen


# -- the document equals the router ---------------------------------------------------------------------
def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    documented = {}
    for path, method, operation in _operations():
        concrete = path.replace("{jobId}", str(uuid.uuid4()))
        name = operation["operationId"]
        assert name in http_api.ROUTES, f"{method} {path}: operationId {name!r} is not a route"
        route_method, pattern, _ = http_api.ROUTES[name]
        assert route_method == method and pattern.fullmatch(concrete), f"{method} {path} is not route {name}"
        documented[name] = (method, path)
    assert set(documented) == set(http_api.ROUTES)


def test_openapi_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(DOC).validate()  # the OpenAPI 3.1 meta-schema


def test_every_error_code_is_listed_at_the_status_it_is_sent_with() -> None:
    public = {cls.code: cls.http_status for cls in _error_classes() if cls.code not in NOT_PUBLIC}
    listed: dict[str, int] = {}
    for name, response in DOC["components"]["responses"].items():
        content = response.get("content", {}).get("application/json", {})
        codes = _codes(content.get("schema", {}))
        assert codes, f"response {name} lists no error code"
        for code in codes:
            assert code in public, f"{name} lists {code!r}, which no error class has"
            assert code in response["description"], f"{name}'s description does not explain {code!r}"
            listed[code] = public[code]
    assert set(listed) == set(public), f"not listed: {sorted(set(public) - set(listed))}"
    for path, method, operation in _operations():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            schema = _resolve(response)["content"]["application/json"]["schema"]
            for code in _codes(schema):
                assert public[code] == int(status), f"{method} {path}: {code} is sent as {public[code]}"


def test_statuses_the_handlers_raise_are_documented_per_route() -> None:
    """Errors every authenticated route can answer with (bad token, outage, bug) are on each of them."""
    for path, method, operation in _operations():
        statuses = set(operation["responses"])
        assert {"500", "503"} <= statuses, f"{method} {path}"
        if operation.get("security", DOC["security"]):
            assert "401" in statuses, f"{method} {path}"
        if "{jobId}" in path:
            assert "404" in statuses, f"{method} {path}"
        if operation.get("security", DOC["security"]):  # limited per user or, without a token, per address
            assert "429" in statuses, f"{method} {path}"
            assert "rate_limited" in _codes(
                _resolve(operation["responses"]["429"])["content"]["application/json"]["schema"]
            )


# -- the spec schema equals the pydantic model ----------------------------------------------------------
_VALIDATION = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "items",
    "anyOf",
    "format",
    "$ref",
    "default",
}


def _validation_keywords(node: Any) -> Any:
    if isinstance(node, list):
        return [_validation_keywords(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _validation_keywords(sub) for name, sub in value.items()}
        elif key in _VALIDATION:
            out[key] = sorted(value) if key == "required" else _validation_keywords(value)
    return out


def test_spec_schema_equals_the_pydantic_model() -> None:
    generated = spec.GenerationSpec.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}"
    )
    models = {"GenerationSpec": generated, **generated.pop("$defs")}
    assert set(models) == set(SPEC_MODELS)
    schemas = DOC["components"]["schemas"]
    for name in SPEC_MODELS:
        assert _validation_keywords(schemas[name]) == _validation_keywords(models[name]), name


def test_limits_json_schema_cannot_express_are_stated_with_the_constants() -> None:
    text = DOC["components"]["schemas"]["GenerationSpec"]["description"]
    for limit in (spec.MAX_PREVIEW_HTML_BYTES, spec.MAX_TOTAL_PREVIEW_HTML_BYTES, spec.MAX_TREE_NODE_BYTES):
        assert f"{limit:,}" in text
    for segment in spec.RESERVED_ROUTE_SEGMENTS:
        assert f"`{segment}`" in text
    submit = DOC["paths"]["/api/agentic/jobs"]["post"]["description"]
    assert f"{request_parsing.MAX_BODY_BYTES // 2**20} MiB" in submit
    assert "120 requests" in DOC["info"]["description"]
    assert "APPGEN_RATE_LIMIT_PER_MINUTE" in DOC["info"]["description"]


def test_job_status_enum_equals_the_state_machine() -> None:
    assert DOC["components"]["schemas"]["JobStatus"]["enum"] == [s.value for s in JobStatus]


# -- real answers validate against the document --------------------------------------------------------
@pytest.fixture
def services(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Services]:
    built = make_services(control_plane, tmp_path)
    yield built
    built.close()  # ends the listener the event streams started


@pytest.fixture
def client(services: Services) -> flask.testing.FlaskClient:
    return create_app(lambda: services).test_client()


def test_openapi_json_is_served_without_auth(client: flask.testing.FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == DOC


def _user() -> dict[str, str]:
    return auth_headers(Caller.user({"sub": str(uuid.uuid4())}))


def test_real_answers_validate_against_the_document(
    client: flask.testing.FlaskClient, services: Services, db_dsn: str
) -> None:
    schema = schemathesis.openapi.from_dict(DOC)
    checked: set[tuple[str, str, int]] = set()

    def check(method: str, path: str, response: Any) -> Any:
        operation = schema[path][method]
        assert str(response.status_code) in operation.definition.raw["responses"], (method, path, response)
        try:
            operation.validate_response(response)
        except FailureGroup as exc:
            raise AssertionError(f"{method} {path} {response.status_code}: {exc.exceptions}") from None
        checked.add((method, path, response.status_code))
        return response

    def call(method: str, path: str, job_id: str = "", **kwargs: Any) -> Any:
        return check(method, path, client.open(path.replace("{jobId}", job_id), method=method, **kwargs))

    one, download, logs, cancel, events = (
        f"{JOBS}/{{jobId}}{s}" for s in ("", "/download", "/logs", "/cancel", "/events")
    )
    alice, bob = _user(), _user()
    body = small_spec(2)
    keyed = {**alice, "Idempotency-Key": "k1"}
    job_id = call("POST", JOBS, json=body, headers=keyed).json["jobId"]  # 202
    call("POST", JOBS, json=body, headers=keyed)  # 200: replay
    call("POST", JOBS, json=dict(body, globalNotes="x"), headers=keyed)  # 409
    bad = small_spec(1)
    bad["pages"][0]["route"] = "nope"
    call("POST", JOBS, json=bad, headers=alice)  # 400 invalid_spec
    call("POST", JOBS, data="{", headers={**alice, "Content-Type": "application/json"})  # 400
    call("POST", JOBS, data="x", headers={**alice, "Content-Type": "text/plain"})  # 415
    first = call("GET", one, job_id, headers=alice)
    assert re.fullmatch(r'"[0-9a-f]{32}"', first.headers["ETag"])
    call("GET", one, job_id, headers={**alice, "If-None-Match": first.headers["ETag"]})  # 304
    call("GET", logs, job_id, headers=alice)  # no lines yet
    call("GET", logs, job_id, query_string={"limit": "0"}, headers=alice)  # 400
    call("GET", JOBS, query_string={"limit": "0"}, headers=alice)  # 400
    call("POST", download, job_id, headers=alice)  # 409 not_ready
    call("GET", events, job_id, headers={**alice, "Last-Event-ID": "1:x"})  # 400
    for path in (one, download, logs, cancel, events):
        call("POST" if path in (download, cancel) else "GET", path, job_id, headers=bob)  # 404: not bob's
    for path, method in (
        (JOBS, "POST"),
        (JOBS, "GET"),
        (one, "GET"),
        (download, "POST"),
        (logs, "GET"),
        (events, "GET"),
    ):
        call(method, path, job_id, json=small_spec(1))  # 401: no token
    call("POST", cancel, job_id)  # 401

    complete_job(services, job_id)
    services.control_plane.append_job_log(uuid.UUID(job_id), None, "info", "validate", "build ok")
    call("GET", one, job_id, headers=alice)  # completed, with its artifact
    call("GET", logs, job_id, query_string={"limit": "1"}, headers=alice)  # a full page: nextCursor
    # A finished job's stream ends after its last event, so the test client can read it whole.
    streamed = call("GET", events, job_id, headers=alice)
    assert streamed.mimetype == "text/event-stream"
    last_id = [line for line in streamed.get_data(as_text=True).splitlines() if line.startswith("id: ")][-1]
    call("GET", events, job_id, headers={**alice, "Last-Event-ID": last_id[4:]})  # 204: it has the end
    call("GET", JOBS, headers=alice)
    call("POST", download, job_id, headers=alice)  # 200
    call("POST", cancel, job_id, headers=alice)  # 409: already finished
    expire_artifact(db_dsn, job_id)
    call("POST", download, job_id, headers=alice)  # 410

    other = client.post(JOBS, json=small_spec(1), headers=bob).json["jobId"]
    call("POST", cancel, other, headers=bob)  # 202
    call("GET", "/healthz")
    call("GET", "/openapi.json")

    services.settings = services.settings.with_overrides(rate_limit_per_minute=1)
    for method, path in (("GET", one), ("GET", logs), ("GET", JOBS), ("POST", download), ("GET", events)):
        carol = _user()
        assert call(method, path, other, headers=carol).status_code != 429
        limited = call(method, path, other, headers=carol)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    # Requests without a valid token are limited per address: once one failed, the next is refused.
    assert client.get(JOBS).status_code == 401
    for method, path in (("POST", cancel), ("POST", JOBS)):
        refused = call(method, path, other, json=small_spec(1), headers=bob)
        assert refused.status_code == 429 and refused.json["error"]["code"] == "rate_limited"

    documented = {
        (method, path, int(status))
        for path, method, operation in _operations()
        for status in operation["responses"]
        if status not in ("403", "413", "500", "503")  # provoked on purpose in test_http_api/test_auth_jwks
    }
    missing = documented - checked
    assert not missing, f"answers not exercised: {sorted(missing)}"
