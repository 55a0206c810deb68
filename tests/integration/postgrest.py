"""Supabase's REST API (PostgREST) in front of the real test database, for tests that run the control plane
over both transports.

`FakePostgrest` is a `respx` side effect: each RPC runs through PostgresTransport as the caller the request's
JWT names (the same role switch and claims PostgREST makes), and the answer is PostgREST-shaped JSON — rows,
bare scalars, `{code, message, details, hint}` errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import jwt
import psycopg
import respx

from appgen import errors
from appgen.gateway import Caller, ControlPlane, PostgresTransport, RestTransport
from appgen.settings import LOCAL_JWT_SECRET

SUPABASE_URL = "https://project.supabase.test"
ANON_KEY = jwt.encode({"role": "anon", "iss": "supabase"}, LOCAL_JWT_SECRET, algorithm="HS256")
SERVICE_KEY = jwt.encode({"role": "service_role", "iss": "supabase"}, LOCAL_JWT_SECRET, algorithm="HS256")
TRANSPORTS = ["postgres", "rest"]


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
            return postgrest_error(401, "PGRST303", "JWT expired")
        except jwt.PyJWTError:
            return postgrest_error(401, "PGRST301", "JWT could not be decoded")
        caller = Caller.service() if claims.get("role") == "service_role" else Caller.user(claims)
        try:
            rows = self.pg.call(function, json.loads(request.content), caller)
        except errors.AppgenError as exc:
            cause = exc.__cause__
            assert isinstance(cause, psycopg.Error), exc
            diag = cause.diag
            return postgrest_error(
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


def postgrest_error(
    status: int, code: str, message: str | None, hint: str | None = None, details: str | None = None
) -> httpx.Response:
    """An error answer the way PostgREST shapes it."""
    return httpx.Response(status, json={"code": code, "message": message, "details": details, "hint": hint})


@contextmanager
def fake_postgrest(dsn: str) -> Iterator[FakePostgrest]:
    """Route every `POST {SUPABASE_URL}/rest/v1/rpc/<function>` to a FakePostgrest on `dsn`."""
    server = FakePostgrest(dsn)
    try:
        with respx.mock(base_url=SUPABASE_URL, assert_all_called=False) as router:
            router.post(path__regex=r"^/rest/v1/rpc/(?P<function>[a-z_0-9]+)$").mock(side_effect=server)
            yield server
    finally:
        server.close()


@contextmanager
def control_plane_over(transport: str, dsn: str) -> Iterator[ControlPlane]:
    """The control plane on the database `dsn`, reached directly (`postgres`) or through PostgREST (`rest`).

    Over `rest`, the database is reachable only through FakePostgrest, so a test that wrote a job must have
    sent PostgREST at least one request; this is checked on the way out."""
    if transport == "postgres":
        plane = ControlPlane(PostgresTransport(dsn, max_size=4))
        try:
            yield plane
        finally:
            plane.transport.close()
        return
    assert transport == "rest", transport
    with fake_postgrest(dsn) as server:
        plane = ControlPlane(RestTransport(SUPABASE_URL, ANON_KEY, SERVICE_KEY))
        try:
            yield plane
        finally:
            plane.transport.close()
        assert server.requests or not _has_jobs(dsn), "the REST variant never reached PostgREST"


def _has_jobs(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select exists (select from public.app_generation_jobs)").fetchone() == (True,)
