"""Domain errors. One base class; each subclass's docstring is its default message and it carries its
stable error code and HTTP status, so one table (this module) maps errors to responses."""

from __future__ import annotations

from typing import Any

from appgen.policy import ErrorCode


class AppgenError(Exception):
    """Something went wrong inside appgen."""

    code = "internal"
    http_status = 500

    def __init__(self, message: str | None = None, *, details: Any = None, retry_after: int | None = None):
        self.message = message or (self.__doc__ or "").strip()
        self.details = details
        self.retry_after = retry_after
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class InvalidRequest(AppgenError):
    """The request is not valid."""

    code = "invalid_request"
    http_status = 400


class UnsafeArchive(InvalidRequest):
    """The archive holds a path leaving the workspace, a link or a device."""

    code = "unsafe_archive"


class InvalidSpec(InvalidRequest):
    """The generation spec is not valid."""

    code = "invalid_spec"


class MissingToken(AppgenError):
    """An access token is required: send `Authorization: Bearer <token>`."""

    code = "missing_token"
    http_status = 401


class InvalidToken(AppgenError):
    """The access token is not valid."""

    code = "invalid_token"
    http_status = 401


class TokenExpired(InvalidToken):
    """The access token has expired; sign in again."""

    code = "token_expired"


class Forbidden(AppgenError):
    """This caller may not do that."""

    code = "forbidden"
    http_status = 403


class AnonymousUser(Forbidden):
    """Anonymous users may not generate apps; sign in with an account first."""

    code = "anonymous_user"


class NotFound(AppgenError):
    """No such job."""

    code = "not_found"
    http_status = 404


class MethodNotAllowed(AppgenError):
    """This method is not allowed on this path."""

    code = "method_not_allowed"
    http_status = 405


class Conflict(AppgenError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409


class NotReady(Conflict):
    """The job has no artifact yet."""

    code = "not_ready"


class IllegalTransition(Conflict):
    """The job cannot move to that state from its current one."""

    code = "illegal_transition"


class IdempotencyConflict(Conflict):
    """This Idempotency-Key was already used with a different spec."""

    code = "idempotency_conflict"


class Expired(AppgenError):
    """The artifact of this job has expired and was deleted."""

    code = "expired"
    http_status = 410


class PayloadTooLarge(AppgenError):
    """The request body is too large."""

    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(AppgenError):
    """The request body must be JSON (`Content-Type: application/json`)."""

    code = "unsupported_media_type"
    http_status = 415


class QuotaExceeded(AppgenError):
    """Daily generation limit reached."""

    code = "quota_exceeded"
    http_status = 429


class RateLimited(AppgenError):
    """Too many requests; slow down."""

    code = "rate_limited"
    http_status = 429


class DependencyUnavailable(AppgenError):
    """A service appgen depends on is unavailable; try again shortly."""

    code = "unavailable"
    http_status = 503

    def __init__(self, message: str | None = None, **kwargs: Any):
        kwargs.setdefault("retry_after", 5)
        super().__init__(message, **kwargs)


class ConfigError(AppgenError):
    """The configuration is not valid."""

    code = "config_error"


class StepFailed(AppgenError):
    """A pipeline step failed. Its error code decides whether the step is retried (`appgen.policy`)."""

    def __init__(self, message: str | None = None, *, code: ErrorCode, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.code = code
        self.error_code = code

    @property
    def transient(self) -> bool:
        return self.error_code.transient


class MigrationError(ConfigError):
    """The database's migration history does not allow applying supabase/migrations."""
