"""The control-plane gateway: the only package that knows SQL.

Every business rule is a named RPC in `supabase/migrations`; the gateway calls them as a given caller (a
user, whose claims make RLS and `auth.uid()` apply, or the service role) and translates database errors,
by SQLSTATE, into domain errors once.

- `base.py`: `Caller`, `Row`, the `RpcTransport` interface and `translate_db_error` with its SQLSTATE table.
- `postgres.py`: `PostgresTransport`, psycopg straight to the database.
- `rest.py`: `RestTransport`, Supabase's REST API (PostgREST).
- `control_plane.py`: `ControlPlane`, one typed method per RPC, and the values it returns.
- `changes.py`: `JobChanges`, what wakes the job event streams: LISTEN/NOTIFY over psycopg, a poll over REST.
- `answers.py`: `JobAnswers`, the status route's kept answers of get_job, dropped by that feed.
"""

from appgen.gateway.answers import JobAnswers
from appgen.gateway.base import Caller, Row, RpcTransport, translate_db_error
from appgen.gateway.changes import JobChanges, Subscription
from appgen.gateway.control_plane import ArtifactLocation, ClaimedTask, ControlPlane, Dispatch
from appgen.gateway.postgres import PostgresTransport
from appgen.gateway.rest import RestTransport

__all__ = [
    "ArtifactLocation",
    "Caller",
    "ClaimedTask",
    "ControlPlane",
    "Dispatch",
    "JobAnswers",
    "JobChanges",
    "PostgresTransport",
    "RestTransport",
    "Row",
    "RpcTransport",
    "Subscription",
    "translate_db_error",
]
