"""The control plane over a direct Postgres connection (psycopg, pooled): the transport of the local stack
and of any deployment given `APPGEN_DATABASE_URL`."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from psycopg import ClientCursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from appgen import errors
from appgen.gateway.base import IDENTIFIER, Caller, Row, RpcTransport, translate_db_error
from appgen.gateway.changes import JobChanges, ListenedChanges

log = logging.getLogger(__name__)


# How long a call waits for a pooled connection before answering "unavailable" (503 with Retry-After).
# During an outage every call waits this long, so it bounds the API's answer time (2 s, with room for
# the rest of the request); under load, 10 connections all busy for this long is overload, and a 503
# that says when to come back beats a queue that grows.
POOL_WAIT_S = 1.5


class PostgresTransport(RpcTransport):
    """Direct Postgres (psycopg, pooled). Switches into the caller's role inside each transaction, the way
    PostgREST does, so RLS and `auth.uid()` behave exactly as over Supabase's REST API."""

    def __init__(
        self,
        dsn: str,
        *,
        listen_dsn: str | None = None,
        max_size: int = 10,
        timeout_s: float = POOL_WAIT_S,
        open_wait_s: float = 15.0,
    ):
        """`listen_dsn`: where the one LISTEN connection goes when `dsn` is a transaction pooler (which
        delivers no notifications); `dsn` itself by default."""
        self._dsn = dsn
        self._listen_dsn = listen_dsn or dsn
        self._max_size = max_size
        self._timeout_s = timeout_s
        self._pool = self._open_pool()
        self._pid = os.getpid()
        self._inherited: list[ConnectionPool] = []
        self._reopen_lock = threading.Lock()
        try:
            with self._pool.connection(timeout=open_wait_s):
                pass
        except (PoolTimeout, psycopg.OperationalError):
            log.warning(
                "the control-plane database is not reachable yet; calls answer 503 until it is",
                extra={"action": "db.unreachable"},
            )

    def _open_pool(self) -> ConnectionPool:
        pool = ConnectionPool(
            self._dsn,
            min_size=1,
            max_size=self._max_size,
            # No server-side prepared statements: behind a transaction pooler (Supabase's, port 6543)
            # consecutive transactions may run on different server connections, where a statement
            # prepared on another one does not exist. Everything else here is transaction-scoped already
            # (`set local role`, `set_config(..., true)`).
            # Autocommit: psycopg adds no BEGIN; `call` runs each RPC in the implicit transaction of
            # one query (see there).
            kwargs={"row_factory": dict_row, "prepare_threshold": None, "autocommit": True},
            open=False,
            timeout=self._timeout_s,
        )
        # A database that is down when the process starts is an outage, not a configuration error: the
        # pool keeps connecting in the background (with backoff) and calls answer 503 until it is back.
        # (Not pool.wait(): it closes the pool when it times out.)
        pool.open(wait=False)
        return pool

    def _current_pool(self) -> ConnectionPool:
        """This process's pool. A forked child inherits the parent's pool without its threads, the ones
        that grow it, refill it and replace broken connections: gunicorn's worker is such a child (the
        Functions Framework imports the target, which builds the services, in the master before it
        forks), so its requests all queued for the one inherited connection. The child opens its own
        pool on its first call; the inherited one stays referenced and is never closed, since its
        connections are the parent's sessions too (closing one would end it for the parent)."""
        if self._pid != os.getpid():
            with self._reopen_lock:
                if self._pid != os.getpid():
                    self._inherited.append(self._pool)
                    self._pool = self._open_pool()
                    self._pid = os.getpid()
        return self._pool

    def call(self, function: str, args: dict[str, Any], caller: Caller) -> list[Row]:
        if not IDENTIFIER.match(function) or not all(IDENTIFIER.match(k) for k in args):
            raise ValueError(f"not an RPC name: {function!r}")
        named = ", ".join(f"{name} => %({name})s" for name in args)
        params = {k: _adapt(v) for k, v in args.items()}
        # Named so that no argument can take them: argument names are identifiers, without spaces.
        params["caller role"] = caller.role
        params["caller claims"] = json.dumps(caller.claims or {"role": "service_role"})
        with self._connection() as conn:
            # One message, one round trip: the caller's role and claims as PostgREST sets them
            # (set_config('role', …, true) is `set local role`), then the RPC, as two statements of one
            # simple query. The statements of one query run in one implicit transaction, committed at its
            # end or rolled back at an error (PostgreSQL docs, "Multiple Statements in a Simple Query"),
            # so the role and claims hold for the RPC and end with it, without a BEGIN and a COMMIT. A
            # simple query takes no parameters: the client cursor quotes them as literals (psycopg's
            # escaping, the one its `sql.Literal` uses). The status path's cost was its waits and sends:
            # one send and one wait instead of four of each, two statements instead of four.
            cursor = ClientCursor(conn)
            cursor.execute(
                "select set_config('role', %(caller role)s, true),"
                " set_config('request.jwt.claims', %(caller claims)s, true);"
                f" select * from public.{function}({named})",
                params,
            )
            cursor.nextset()
            return cursor.fetchall()

    def job_changes(self, poll_interval_s: float) -> JobChanges:
        """Postgres notifies the changes itself: one LISTEN connection of this process, not a poll. Its
        probes go out the way the RPCs' changes do, through this pool."""
        return ListenedChanges(self._listen_dsn, probe=self._notify)

    def _notify(self, channel: str) -> None:
        with self._connection() as conn:
            conn.execute("select pg_notify(%s, '')", (channel,))

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Row]]:
        try:
            with self._current_pool().connection() as conn:
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
