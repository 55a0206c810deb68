"""The control-plane gateway: the only module that knows SQL.

Every business rule is a named RPC in `supabase/migrations`; this module calls them as a given caller (a
user, whose claims make RLS and `auth.uid()` apply, or the service role) and translates database errors,
by SQLSTATE, into domain errors once.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import httpx
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from appgen import errors

log = logging.getLogger(__name__)

Row = dict[str, Any]

# SQLSTATEs raised by the migrations (see their headers) -> domain errors.
_SQLSTATE_ERRORS: dict[str, type[errors.AppgenError]] = {
    "AGNF0": errors.NotFound,
    "AGIT0": errors.IllegalTransition,
    "AGQT0": errors.QuotaExceeded,
    "AGIK0": errors.IdempotencyConflict,
    "AGIV0": errors.InvalidRequest,
    "AGNR0": errors.NotReady,
    "AGEX0": errors.Expired,
}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Caller:
    """Who an RPC runs as: a signed-in user (their verified claims) or the service role (claims None).
    `token` is the user's access token itself, which transports that forward it (REST) need."""

    claims: dict[str, Any] | None = None
    token: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def service(cls) -> Caller:
        return cls(None)

    @classmethod
    def user(cls, claims: dict[str, Any], token: str | None = None) -> Caller:
        return cls(claims, token)

    @property
    def role(self) -> str:
        return "service_role" if self.claims is None else "authenticated"


def translate_db_error(sqlstate: str | None, message: str, hint: str | None = None) -> errors.AppgenError:
    """One mapping from database errors to domain errors, shared by every transport."""
    cls = _SQLSTATE_ERRORS.get(sqlstate or "")
    if cls is None:
        log.error("database error %s: %s", sqlstate, message)
        return errors.AppgenError()
    if cls is errors.QuotaExceeded:
        retry_after = int(hint) if hint and hint.isdigit() else 3600
        return errors.QuotaExceeded(
            f"{message}; the next slot opens in {retry_after} s", retry_after=retry_after
        )
    return cls(message)


class RpcTransport(ABC):
    """Calls one RPC by name with named arguments and returns its rows."""

    @abstractmethod
    def call(self, function: str, args: dict[str, Any], caller: Caller) -> list[Row]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class PostgresTransport(RpcTransport):
    """Direct Postgres (psycopg, pooled). Switches into the caller's role inside each transaction, the way
    PostgREST does, so RLS and `auth.uid()` behave exactly as over Supabase's REST API."""

    def __init__(self, dsn: str, *, max_size: int = 10, timeout_s: float = 10.0):
        # timeout_s: how long a call waits for a connection before answering "unavailable" (503).
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            kwargs={"row_factory": dict_row},
            open=False,
            timeout=timeout_s,
        )
        try:
            self._pool.open(wait=True, timeout=15)
        except PoolTimeout as exc:
            self._pool.close()
            raise errors.DependencyUnavailable("the control-plane database is unreachable") from exc

    def call(self, function: str, args: dict[str, Any], caller: Caller) -> list[Row]:
        if not _IDENTIFIER.match(function) or not all(_IDENTIFIER.match(k) for k in args):
            raise ValueError(f"not an RPC name: {function!r}")
        named = ", ".join(f"{name} => %({name})s" for name in args)
        params = {k: _adapt(v) for k, v in args.items()}
        with self._transaction() as conn:
            conn.execute(f"set local role {caller.role}")
            conn.execute(
                "select set_config('request.jwt.claims', %s, true)",
                (json.dumps(caller.claims or {"role": "service_role"}),),
            )
            return conn.execute(f"select * from public.{function}({named})", params).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Row]]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield cast(psycopg.Connection[Row], conn)
        except psycopg.Error as exc:
            if exc.sqlstate and exc.sqlstate.startswith("AG"):
                raise translate_db_error(exc.sqlstate, _primary(exc), exc.diag.message_hint) from exc
            if isinstance(exc, psycopg.OperationalError):
                raise errors.DependencyUnavailable("the control-plane database is unavailable") from exc
            raise translate_db_error(exc.sqlstate, str(exc)) from exc
        except PoolTimeout as exc:
            raise errors.DependencyUnavailable("the control-plane database is busy") from exc

    def close(self) -> None:
        self._pool.close()


def _primary(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or str(exc)


def _adapt(value: Any) -> Any:
    if isinstance(value, dict | list):
        return Jsonb(value)
    return value


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
        if not _IDENTIFIER.match(function):
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


@dataclass(frozen=True)
class Dispatch:
    """An instruction from the database: enqueue this step (`start` = orchestrator starts the job)."""

    kind: str
    job_id: UUID
    task_id: UUID | None
    delay_seconds: int = 0
    redelivery: int = 0  # > 0 when the sweeper sends a step again (the queue needs a fresh task name)


@dataclass(frozen=True)
class ClaimedTask:
    task_id: UUID
    job_id: UUID
    owner_id: UUID
    project_id: UUID
    kind: str
    key: str
    attempt: int
    fix_round: int
    max_fix_rounds: int
    deadline_at: datetime | None
    generation_spec: dict[str, Any]
    inputs: dict[str, Any]


@dataclass(frozen=True)
class ArtifactLocation:
    bucket: str
    path: str
    size_bytes: int
    checksum: str


class ControlPlane:
    """Typed calls of the control-plane RPCs. One method per RPC; no decisions here."""

    def __init__(self, transport: RpcTransport):
        self.transport = transport

    def _call(self, function: str, caller: Caller, **args: Any) -> list[Row]:
        return self.transport.call(function, args, caller)

    def _dispatches(self, function: str, caller: Caller, **args: Any) -> list[Dispatch]:
        return [Dispatch(**row) for row in self._call(function, caller, **args)]

    # -- users ----------------------------------------------------------------------------------------
    def submit_job(
        self, caller: Caller, spec: dict[str, Any], idempotency_key: str | None
    ) -> tuple[UUID, bool]:
        row = self._call("submit_job", caller, p_spec=spec, p_idempotency_key=idempotency_key)[0]
        return row["job_id"], row["created"]

    def get_job(self, caller: Caller, job_id: UUID) -> Row:
        rows = self._call("get_job", caller, p_job_id=job_id)
        if not rows:
            raise errors.NotFound()
        return rows[0]

    def list_jobs(self, caller: Caller, project_id: UUID | None, limit: int) -> list[Row]:
        return self._call("list_jobs", caller, p_project_id=project_id, p_limit=limit)

    def list_job_logs(self, caller: Caller, job_id: UUID, after: int, limit: int) -> list[Row]:
        return self._call("list_job_logs", caller, p_job_id=job_id, p_after=after, p_limit=limit)

    def request_download(self, caller: Caller, job_id: UUID) -> ArtifactLocation:
        return ArtifactLocation(**self._call("request_download", caller, p_job_id=job_id)[0])

    def cancel_job(self, caller: Caller, job_id: UUID) -> list[Dispatch]:
        return self._dispatches("cancel_job", caller, p_job_id=job_id)

    # -- orchestrator and workers (service role) ------------------------------------------------------
    def start_job(self, job_id: UUID) -> list[Dispatch]:
        return self._dispatches("start_job", Caller.service(), p_job_id=job_id)

    def claim_task(self, task_id: UUID, lease_seconds: int) -> ClaimedTask | None:
        rows = self._call("claim_task", Caller.service(), p_task_id=task_id, p_lease_seconds=lease_seconds)
        return ClaimedTask(**rows[0]) if rows else None

    def finish_task(
        self,
        task_id: UUID,
        attempt: int,
        result: dict[str, Any],
        tokens_input: int = 0,
        tokens_output: int = 0,
    ) -> list[Dispatch]:
        return self._dispatches(
            "finish_task",
            Caller.service(),
            p_task_id=task_id,
            p_attempt=attempt,
            p_result=result,
            p_tokens_input=tokens_input,
            p_tokens_output=tokens_output,
        )

    def fail_task(
        self, task_id: UUID, attempt: int, code: str, message: str, transient: bool
    ) -> list[Dispatch]:
        return self._dispatches(
            "fail_task",
            Caller.service(),
            p_task_id=task_id,
            p_attempt=attempt,
            p_code=code,
            p_message=message,
            p_transient=transient,
        )

    def renew_task_lease(self, task_id: UUID, attempt: int, lease_seconds: int) -> bool:
        rows = self._call(
            "renew_task_lease",
            Caller.service(),
            p_task_id=task_id,
            p_attempt=attempt,
            p_lease_seconds=lease_seconds,
        )
        return bool(rows[0]["renew_task_lease"])

    def redispatch_owed_tasks(self, limit: int = 100, grace_seconds: int = 60) -> list[Dispatch]:
        return self._dispatches(
            "redispatch_owed_tasks", Caller.service(), p_limit=limit, p_grace_seconds=grace_seconds
        )

    def job_is_active(self, job_id: UUID) -> bool:
        return bool(self._call("job_is_active", Caller.service(), p_job_id=job_id)[0]["job_is_active"])

    def list_job_tasks(self, job_id: UUID) -> list[Row]:
        """Every step of a job with its stored result, in pipeline order (for the build report)."""
        return self._call("list_job_tasks", Caller.service(), p_job_id=job_id)

    def add_job_warning(self, job_id: UUID, code: str, message: str) -> None:
        self._call("add_job_warning", Caller.service(), p_job_id=job_id, p_code=code, p_message=message)

    def append_job_log(
        self, job_id: UUID, task_id: UUID | None, level: str, stage: str, message: str
    ) -> None:
        self._call(
            "append_job_log",
            Caller.service(),
            p_job_id=job_id,
            p_task_id=task_id,
            p_level=level,
            p_stage=stage,
            p_message=message,
        )

    def record_artifact(self, job_id: UUID, bucket: str, path: str, size_bytes: int, checksum: str) -> None:
        self._call(
            "record_artifact",
            Caller.service(),
            p_job_id=job_id,
            p_bucket=bucket,
            p_path=path,
            p_size_bytes=size_bytes,
            p_checksum=checksum,
        )

    def fail_overdue_jobs(self, limit: int = 100) -> list[Dispatch]:
        return self._dispatches("fail_overdue_jobs", Caller.service(), p_limit=limit)

    def list_scratch_to_clear(self, limit: int = 100, settle_seconds: int = 60) -> list[Row]:
        return self._call(
            "list_scratch_to_clear", Caller.service(), p_limit=limit, p_settle_seconds=settle_seconds
        )

    def confirm_scratch_cleared(self, job_id: UUID) -> None:
        self._call("confirm_scratch_cleared", Caller.service(), p_job_id=job_id)

    def list_artifacts_to_delete(self, limit: int = 100) -> list[Row]:
        return self._call("list_artifacts_to_delete", Caller.service(), p_limit=limit)

    def confirm_artifact_deleted(self, artifact_id: UUID) -> None:
        self._call("confirm_artifact_deleted", Caller.service(), p_artifact_id=artifact_id)
