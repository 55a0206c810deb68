"""Google OIDC tokens on internal endpoints (cloud mode).

Cloud Tasks and Cloud Scheduler call the orchestrate and worker services with a Google-signed ID token
for a service account, and the worker calls the builder service with one of its own. Cloud Run IAM
checks it first; the handler checks it again (audience and caller email), so a service made public by
mistake still refuses everyone else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import jwt
from google.auth import exceptions as gauth_exc
from google.auth import transport
from google.oauth2 import id_token

from appgen import errors
from appgen.redact import redact

# Google publishes its signing certificates for hours ahead; re-fetching them on every delivery only costs.
CERTS_TTL_SECONDS = 3600.0
# After a failed check, certificates older than this are fetched again once (Google may have rotated keys).
CERTS_REFRESH_AFTER_SECONDS = 60.0
CLOCK_SKEW_SECONDS = 10


class CachingRequest:
    """A `google.auth.transport.Request` that remembers successful GET answers (the certificate list)."""

    def __init__(
        self,
        inner: transport.Request,
        ttl_seconds: float = CERTS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._inner = inner
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        if method != "GET":
            return self._inner(url, method=method, **kwargs)
        with self._lock:
            hit = self._cache.get(url)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        response = self._inner(url, method=method, **kwargs)
        if response.status == 200:
            with self._lock:
                self._cache[url] = (self._clock(), response)
        return response

    def forget_older_than(self, seconds: float) -> bool:
        """Drop cached answers older than `seconds`; True when something was dropped."""
        now = self._clock()
        with self._lock:
            stale = [url for url, (at, _) in self._cache.items() if now - at >= seconds]
            for url in stale:
                del self._cache[url]
        return bool(stale)


_default: CachingRequest | None = None
_default_lock = threading.Lock()


def _default_request() -> CachingRequest:
    global _default
    with _default_lock:
        if _default is None:
            from google.auth.transport.requests import Request

            _default = CachingRequest(Request())
        return _default


def verify_google_oidc(
    token: str,
    audience: str,
    allowed_emails: Collection[str],
    *,
    request: Callable[..., Any] | None = None,
    refusal: str = "internal endpoints accept only the task queue's",
) -> Mapping[str, Any]:
    """Claims of a Google-signed ID token for `audience` whose verified `email` is one of `allowed_emails`.

    Forbidden for any other token (its message starts with `refusal`, followed by "service account" or
    "token (reason)"); DependencyUnavailable when Google's certificates cannot be fetched (the caller
    retries); ConfigError when there is nothing to check against.
    """
    if not audience or not allowed_emails:
        raise errors.ConfigError(
            "internal endpoints need APPGEN_TASKS_AUDIENCE and APPGEN_TASKS_SERVICE_ACCOUNT in cloud mode"
        )
    request = request or _default_request()
    try:
        claims = _verify(token, request, audience, refusal)
    except ValueError as exc:
        # An unknown key id after Google rotated its keys looks like a bad signature: refetch once.
        if not (
            isinstance(request, CachingRequest) and request.forget_older_than(CERTS_REFRESH_AFTER_SECONDS)
        ):
            raise _refused(exc, refusal) from exc
        try:
            claims = _verify(token, request, audience, refusal)
        except ValueError as again:
            raise _refused(again, refusal) from again
    email = claims.get("email")
    if claims.get("email_verified") is not True or email not in allowed_emails:
        raise errors.Forbidden(f"{refusal} service account")
    return claims


def _verify(token: str, request: Callable[..., Any], audience: str, refusal: str) -> Mapping[str, Any]:
    """The token's claims; ValueError for a bad signature, Forbidden for other invalid tokens."""
    try:
        return id_token.verify_oauth2_token(
            token, request, audience=audience, clock_skew_in_seconds=CLOCK_SKEW_SECONDS
        )
    except gauth_exc.TransportError as exc:
        raise errors.DependencyUnavailable("Google's token certificates could not be fetched") from exc
    except ValueError:
        raise
    except (gauth_exc.GoogleAuthError, jwt.PyJWTError) as exc:  # wrong issuer, unusable key set
        raise _refused(exc, refusal) from exc


def _refused(exc: Exception, refusal: str) -> errors.Forbidden:
    reason = redact(str(exc))[:200] or type(exc).__name__
    return errors.Forbidden(f"{refusal} token ({reason})")
