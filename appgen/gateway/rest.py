"""The control plane over Supabase's REST API (PostgREST): the transport of the cloud functions and the
worker when no direct database URL is configured."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx

from appgen import errors
from appgen.gateway.base import IDENTIFIER, Caller, Row, RpcTransport, translate_db_error

log = logging.getLogger(__name__)


class RestTransport(RpcTransport):
    """Supabase's REST API: `POST {SUPABASE_URL}/rest/v1/rpc/<function>` through PostgREST.

    User calls carry the user's own access token, so PostgREST switches into `authenticated` with their
    claims and RLS and `auth.uid()` apply exactly as over PostgresTransport; service calls carry the service
    role key. httpx is used directly rather than the `postgrest` client, whose `auth()` sets the token on a
    session shared by every thread; here each request carries its own headers.

    Rows come back as JSON: columns named `id`/`*_id` holding a UUID string become UUIDs and `at`/`*_at`
    ISO timestamps become datetimes, so callers see the same values as over psycopg.
    """

    def __init__(
        self,
        supabase_url: str,
        anon_key: str,
        service_role_key: str,
        *,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
    ):
        self._base = supabase_url.rstrip("/") + "/rest/v1/rpc/"
        self._anon_key = anon_key
        self._service_role_key = service_role_key
        self._http = client or httpx.Client(timeout=timeout_s)

    def call(self, function: str, args: dict[str, Any], caller: Caller) -> list[Row]:
        if not IDENTIFIER.match(function):
            raise ValueError(f"not an RPC name: {function!r}")
        body = json.dumps(args, default=_json_default)
        try:
            response = self._http.post(self._base + function, content=body, headers=self._headers(caller))
        except httpx.TransportError as exc:
            raise errors.DependencyUnavailable("the control plane (Supabase REST) is unreachable") from exc
        if response.status_code >= 400:
            raise self._error(response, caller)
        if response.status_code == 204 or not response.content:
            return []
        return _rows(function, response.json())

    def _headers(self, caller: Caller) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if caller.claims is None:
            headers["apikey"] = self._service_role_key
            if (
                self._service_role_key.count(".") == 2
            ):  # a legacy JWT key; new `sb_secret_…` keys go as apikey only
                headers["Authorization"] = f"Bearer {self._service_role_key}"
        else:
            if not caller.token:
                raise errors.AppgenError("the REST transport needs the caller's access token")
            headers["apikey"] = self._anon_key
            headers["Authorization"] = f"Bearer {caller.token}"
        return headers

    def _error(self, response: httpx.Response, caller: Caller) -> errors.AppgenError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("code"), str):
            if response.status_code in (502, 503, 504, 429):
                return errors.DependencyUnavailable("the control plane (Supabase REST) is unavailable")
            log.error("Supabase REST answered %s: %s", response.status_code, response.text[:500])
            return errors.AppgenError()
        code, message, hint = body["code"], str(body.get("message") or ""), body.get("hint")
        if code.startswith("AG"):
            return translate_db_error(code, message, hint if isinstance(hint, str) else None)
        if code in ("PGRST000", "PGRST001", "PGRST002", "PGRST003") or code[:2] in ("08", "53", "57"):
            return errors.DependencyUnavailable("the control-plane database is unavailable")
        if code.startswith("PGRST3") and caller.claims is not None:
            return errors.InvalidToken(f"Supabase refused the access token: {message}")
        return translate_db_error(code, f"{message} ({response.status_code})")

    def close(self) -> None:
        self._http.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _rows(function: str, data: Any) -> list[Row]:
    """PostgREST's answer as rows: a set-returning function gives objects, a scalar one a bare value."""
    if data is None:
        return []
    items = data if isinstance(data, list) else [data]
    return [_typed(item) if isinstance(item, dict) else {function: item} for item in items]


def _typed(row: Row) -> Row:
    return {column: _typed_value(column, value) for column, value in row.items()}


def _typed_value(column: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if column == "id" or column.endswith("_id"):
            return UUID(value)
        if column == "at" or column.endswith("_at"):
            return datetime.fromisoformat(value)
    except ValueError:
        pass  # not a UUID/timestamp after all: keep the text
    return value
