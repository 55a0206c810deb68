"""The public HTTP API (DESIGN.md §4) over Flask requests, as Functions Framework hands them over.

One router serves every public route; the single-purpose function targets (`submit`, `status`, …) use the
same router restricted to their endpoint. Handlers are thin: parse (`request_parsing.py`), one service
call, respond (`responses.py`). Every error becomes `{"error": {code, message, details}}` with its status,
never a stack trace.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import flask
import yaml

from appgen import auth, errors, events, jobs
from appgen.gateway import Caller
from appgen.ids import parse_uuid
from appgen.policy import POLICY
from appgen.request_parsing import json_body, path_job_id, query_int, query_uuid
from appgen.responses import error_response, job_etag, job_json, json_response, log_json, timestamp
from appgen.services import Services
from appgen.settings import REPO_ROOT

log = logging.getLogger(__name__)

OPENAPI_PATH = REPO_ROOT / "openapi.yaml"
JOBS = "/api/agentic/jobs"
_JOB = rf"{JOBS}/(?P<job_id>[^/]+)"

_IDEMPOTENCY_KEY = re.compile(r"[^\x00-\x1f\x7f]{1,200}")

Handler = Callable[[flask.Request, Services, dict[str, str]], flask.Response]
Route = tuple[str, re.Pattern[str], Handler]  # method, path pattern, handler


# -- handlers ------------------------------------------------------------------------------------------
def _submit(request: flask.Request, services: Services, _: dict[str, str]) -> flask.Response:
    caller = _caller(request, services)
    key = request.headers.get("Idempotency-Key") or None
    # Control characters (NUL above all, which Postgres text cannot hold) are refused with the length.
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise errors.InvalidRequest(
            "Idempotency-Key must be 1 to 200 characters, none of them a control character",
            details=[{"path": "header.Idempotency-Key", "message": "bad length or character"}],
        )
    job_id, created = jobs.submit(services, caller, json_body(request), key)
    return json_response({"jobId": str(job_id)}, 202 if created else 200)


def _status(request: flask.Request, services: Services, params: dict[str, str]) -> flask.Response:
    caller = _limited_caller(request, services)
    job_id = path_job_id(params)
    if request.if_none_match:
        # The client holds a copy, and the ETag names the version it shows: the version alone (one indexed
        # read, under the same RLS rule as the job) says whether it is current, without building the job.
        etag = job_etag(job_id, jobs.status_version(services, caller, job_id))
        if _matches(request, etag):
            return _status_response(flask.Response(status=304), etag)
    row = jobs.status(services, caller, job_id)
    etag = job_etag(row["job_id"], row["version"])
    if _matches(request, etag):  # it changed between the two reads, into the client's copy
        return _status_response(flask.Response(status=304), etag)
    return _status_response(json_response(job_json(row)), etag)


def _matches(request: flask.Request, etag: str) -> bool:
    """Whether `If-None-Match` names this ETag, alone, in a list or weak (`W/"…"`), as HTTP compares it
    for GET. (werkzeug holds the tags without their quotes.)"""
    return (
        etag.strip('"') in request.if_none_match.as_set(include_weak=True)
        or request.headers.get("If-None-Match") == etag
    )


def _status_response(response: flask.Response, etag: str) -> flask.Response:
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _list(request: flask.Request, services: Services, _: dict[str, str]) -> flask.Response:
    caller = _limited_caller(request, services)
    project = request.args.get("projectId")
    project_id = query_uuid(project, "query.projectId") if project else None
    limit = query_int(request, "limit", 20, 1, POLICY.jobs_page_max)
    return json_response(
        {"jobs": [job_json(row) for row in jobs.list_jobs(services, caller, project_id, limit)]}
    )


def _logs(request: flask.Request, services: Services, params: dict[str, str]) -> flask.Response:
    caller = _limited_caller(request, services)
    after = query_int(request, "after", 0, 0, 2**62)
    limit = query_int(request, "limit", 100, 1, POLICY.logs_page_max)
    entries = [log_json(row) for row in jobs.logs(services, caller, path_job_id(params), after, limit)]
    next_cursor = str(entries[-1]["id"]) if len(entries) == limit else None
    return json_response({"logs": entries, "nextCursor": next_cursor})


def _events(request: flask.Request, services: Services, params: dict[str, str]) -> flask.Response:
    # EventSource cannot set headers: this route also takes the token as `?access_token=` (never logged).
    caller = _limited_caller(request, services, query_token=True)
    job_id = path_job_id(params)
    resume = events.parse_event_id(request.headers.get("Last-Event-ID"))
    if request.method == "HEAD":  # the headers a stream would get, without holding one open
        jobs.status(services, caller, job_id)
        return flask.Response(status=200, headers=events.HEADERS)
    stream = events.open_stream(services, caller, job_id, resume)
    if stream is None:
        return flask.Response(status=204)  # the client has the end already: EventSource stops
    events.bound_socket(request.environ, services.settings.events_write_timeout_s)
    return flask.Response(stream, status=200, headers=events.HEADERS)


def _download(request: flask.Request, services: Services, params: dict[str, str]) -> flask.Response:
    signed = jobs.download(services, _limited_caller(request, services), path_job_id(params))
    return json_response({"url": signed.url, "expiresAt": timestamp(signed.expires_at)})


def _cancel(request: flask.Request, services: Services, params: dict[str, str]) -> flask.Response:
    return json_response(
        job_json(jobs.cancel(services, _caller(request, services), path_job_id(params))), 202
    )


def _health(request: flask.Request, services: Services, _: dict[str, str]) -> flask.Response:
    return json_response({"status": "ok"})


def _openapi(request: flask.Request, services: Services, _: dict[str, str]) -> flask.Response:
    response = json_response(openapi_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@cache
def openapi_document() -> dict[str, Any]:
    """The API contract (`openapi.yaml` at the repository root), kept equal to this module by a test."""
    with OPENAPI_PATH.open() as handle:
        document: dict[str, Any] = yaml.safe_load(handle)
    return document


# endpoint name -> (method, path pattern, handler). The order matters only for readability. Patterns are
# applied with `fullmatch` (a `$` would also match before a trailing newline, `%0A` in the URL).
ROUTES: dict[str, Route] = {
    "submit": ("POST", re.compile(rf"{JOBS}/?"), _submit),
    "list_jobs": ("GET", re.compile(rf"{JOBS}/?"), _list),
    "status": ("GET", re.compile(rf"{_JOB}/?"), _status),
    "download": ("POST", re.compile(rf"{_JOB}/download/?"), _download),
    "logs": ("GET", re.compile(rf"{_JOB}/logs/?"), _logs),
    "events": ("GET", re.compile(rf"{_JOB}/events/?"), _events),
    "cancel": ("POST", re.compile(rf"{_JOB}/cancel/?"), _cancel),
    "healthz": ("GET", re.compile(r"/healthz/?"), _health),
    "openapi": ("GET", re.compile(r"/openapi\.json"), _openapi),
}


def handle(
    request: flask.Request,
    get_services: Callable[[], Services],
    endpoints: frozenset[str] | None = None,
    extra_routes: dict[str, Route] | None = None,
) -> flask.Response:
    """Answer one public request; `endpoints` limits the router to some endpoints (single-purpose targets),
    `extra_routes` adds some (the local stack's development routes)."""
    origins: tuple[str, ...] = ()
    try:
        services = get_services()
        origins = services.settings.cors_origins
        if request.method == "OPTIONS":
            response = flask.Response(status=204)
        else:
            handler, params = _route(request, endpoints, {**ROUTES, **(extra_routes or {})})
            response = handler(request, services, params)
    except errors.AppgenError as exc:
        response = error_response(exc)
    except Exception:
        log.exception("unhandled error", extra={"action": "api.crash", "path": request.path})
        response = error_response(errors.AppgenError())
    return _with_cors(request, response, origins)


def _route(
    request: flask.Request, endpoints: frozenset[str] | None, routes: dict[str, Route]
) -> tuple[Handler, dict[str, str]]:
    path_matched = False
    for name, (method, pattern, handler) in routes.items():
        if endpoints is not None and name not in endpoints:
            continue
        match = pattern.fullmatch(request.path)
        if match:
            path_matched = True
            if request.method == method or (method == "GET" and request.method == "HEAD"):
                return handler, match.groupdict()
    if path_matched:
        raise errors.MethodNotAllowed(f"{request.method} is not allowed on {request.path}")
    raise errors.NotFound(f"no route for {request.method} {request.path}")


# -- CORS ----------------------------------------------------------------------------------------------
def _with_cors(request: flask.Request, response: flask.Response, origins: tuple[str, ...]) -> flask.Response:
    origin = request.headers.get("Origin")
    if origin and (origin in origins or "*" in origins):
        # Credentials are never allowed together with a wildcard, so a wildcard answers "*" itself.
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
        if "*" not in origins:
            response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, Idempotency-Key, If-None-Match, Last-Event-ID"
        )
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Expose-Headers"] = "ETag, Retry-After"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


# -- the caller ------------------------------------------------------------------------------------------
def _caller(request: flask.Request, services: Services, *, query_token: bool = False) -> Caller:
    """The signed-in caller. Requests without a valid token are limited per client address: an address
    whose recent requests kept failing verification is refused before its next token is even looked
    at, so a flood of made-up tokens costs one bucket lookup each. With `query_token`, a request without
    an Authorization header may carry the token as `?access_token=`."""
    settings = services.settings
    address = client_address(request, settings.behind_google_front_end)
    services.address_limits.check(address, settings.rate_limit_per_minute)
    authorization = request.headers.get("Authorization")
    if authorization is None and query_token and "access_token" in request.args:
        authorization = "Bearer " + request.args["access_token"]
    try:
        token = auth.bearer_token(authorization)
        verifier = auth.verifier(settings.jwt_secret, settings.supabase_jwks_url, settings.jwt_issuer)
        claims = verifier.verify(token)
    except (errors.MissingToken, errors.InvalidToken):
        services.address_limits.spend(address, settings.rate_limit_per_minute)
        raise
    return Caller.user(claims, token)


def _limited_caller(request: flask.Request, services: Services, *, query_token: bool = False) -> Caller:
    """The caller of a cheap endpoint, after taking one request from their rate-limit bucket."""
    caller = _caller(request, services, query_token=query_token)
    assert caller.claims is not None
    # Keyed by the canonical id: `sub` may arrive in upper case, which is the same user.
    user = str(parse_uuid(caller.claims["sub"]))
    services.user_limits.take(user, services.settings.rate_limit_per_minute)
    return caller


def client_address(request: flask.Request, behind_google_front_end: bool) -> str:
    """Who sent the request, as the key of its address's rate-limit bucket.

    On Cloud Run, Google's front end appends the address it received the request from to
    X-Forwarded-For (behind an external Application Load Balancer too), so the right-most entry is the
    client's and everything before it is whatever the client chose to send. Elsewhere (the local stack)
    it is the connection's own address. IPv6 clients are keyed by their /64, which one host usually
    holds whole."""
    address = request.remote_addr or ""
    if behind_google_front_end:
        forwarded = ",".join(request.headers.getlist("X-Forwarded-For"))
        address = forwarded.rsplit(",", 1)[-1].strip() or address
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
