"""Fuzz every public endpoint from `openapi.yaml` with schemathesis: positive and negative cases against the
real WSGI app on a real database, checking that no answer is a 5xx and every answer conforms to the
document (status code, content type, headers, body). The dispatcher is the in-memory one, so accepted
jobs are only queued: nothing runs in the background and the run stays within a minute.

The job event stream is fuzzed like every route: schemathesis reads a `text/event-stream` answer whole
and validates each event against the document (the job and log payloads included). Generated job ids
are never the caller's, so it answers 404; should a stream open anyway, it is bounded: its lifetime is
cut to a second here (and the heartbeat is longer), so the read ends instead of hanging the run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from schemathesis.generation import GenerationMode

from appgen import http_api
from appgen.gateway import Caller, ControlPlane
from appgen.localstack.server import create_app
from tests.conftest import user_claims
from tests.e2e.stack import start_stack
from tests.integration.apitest import auth_headers, make_services

MAX_EXAMPLES = 40
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@pytest.fixture
def app(control_plane: ControlPlane, tmp_path: Path) -> Iterator[flask.Flask]:
    # A high rate limit: the run is about the handlers, and 429 answers are tested elsewhere.
    services = make_services(control_plane, tmp_path, rate_limit_per_minute=100_000, events_lifetime_s=1.0)
    yield create_app(lambda: services)
    services.close()


def _run(
    operation: Any, mode: GenerationMode, headers: dict[str, str], max_examples: int = MAX_EXAMPLES
) -> int:
    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        nonlocal calls
        calls += 1
        # Generated headers stay (Idempotency-Key, If-None-Match); a valid token is added unless the case
        # generated its own Authorization header.
        case.headers = {**headers, **(case.headers or {})}
        case.call_and_validate(checks=CHECKS)

    try:
        fuzz()
    except Unsatisfiable:
        # Nothing to break: an operation without parameters or body has no negative cases.
        assert mode is GenerationMode.NEGATIVE and not operation.path_parameters and not operation.body
    return calls


def test_every_endpoint_survives_positive_and_negative_fuzzing(app: flask.Flask) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    headers = auth_headers(Caller.user(user_claims()))
    started = time.monotonic()
    ran: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ran[f"{operation.label} {mode.value}"] = _run(operation, mode, headers)
    # Every documented operation but the document itself (schemathesis leaves out the schema's own URL).
    assert len({label.rsplit(" ", 1)[0] for label in ran}) == len(http_api.ROUTES) - 1
    assert all(count > 0 for label, count in ran.items() if "positive" in label), ran
    assert time.monotonic() - started < 60


def test_the_running_local_stack_answers_by_the_document(open_tmp: Path) -> None:
    """The same fuzzing, fewer examples, over HTTP against `appgen dev` as a frontend would call it.
    Accepted jobs really start there; the model URL leads nowhere, so they go no further than the
    scaffold, and the stack is stopped at the end."""
    stack = start_stack(
        open_tmp / "data",
        {
            "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9",
            "APPGEN_RATE_LIMIT_PER_MINUTE": "100000",
            "APPGEN_EVENTS_LIFETIME_SECONDS": "1",
        },
    )
    try:
        schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json")
        headers = auth_headers(Caller.user(user_claims()))
        ran = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                ran[f"{operation.label} {mode.value}"] = _run(operation, mode, headers, max_examples=8)
        assert len({label.rsplit(" ", 1)[0] for label in ran}) == len(http_api.ROUTES) - 1
        assert all(count > 0 for label, count in ran.items() if "positive" in label), ran
    finally:
        assert stack.stop() == 0, stack.log()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": "Token abc"},
    ],
)
def test_bad_tokens_on_every_operation_answer_401_conforming_to_the_document(
    app: flask.Flask, headers: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("security") == []:
            continue
        body = {"media_type": "application/json", "body": {}} if len(operation.body) else {}
        case = operation.Case(
            path_parameters={"jobId": "7d8c5f1e-1f5e-4a39-9a4f-3f3a3b9f6d11"}, headers=headers, **body
        )
        response = case.call_and_validate(checks=CHECKS)
        assert response.status_code == 401, operation.label
