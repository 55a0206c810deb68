"""What every control-plane transport shares: who a call runs as (`Caller`), the transport interface
(`RpcTransport`: one named RPC, named arguments, rows back) and the one table that turns the database's
errors into domain errors (`translate_db_error`, by the SQLSTATEs the migrations raise)."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from appgen import errors

if TYPE_CHECKING:
    from appgen.gateway.changes import JobChanges

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
    "AGAN0": errors.AnonymousUser,
}
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*\Z")  # what an RPC or argument name may be


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

    def job_changes(self, poll_interval_s: float) -> JobChanges:
        """What tells this process's event streams that a job may have changed: without notifications
        (Supabase's REST API), a poll every `poll_interval_s` seconds."""
        from appgen.gateway.changes import PolledChanges

        return PolledChanges(poll_interval_s)

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
