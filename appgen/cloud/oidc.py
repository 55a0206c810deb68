"""Google OIDC tokens on internal endpoints (cloud mode).

Cloud Tasks and Cloud Scheduler call the orchestrate and worker services with a Google-signed ID token
for a service account, and the worker calls the builder service with one of its own. Cloud Run IAM
checks it first; the handler checks it again (audience and caller email), so a service made public by
mistake still refuses everyone else.

Cloud Run may pass the token on with its signature removed once its IAM check has verified it. A token
with an empty signature is accepted only where the deployment says a private service's IAM stands in
front (`trust_iam`, APPGEN_TRUST_CLOUD_RUN_IAM, which `appgen deploy` sets only on services without
unauthenticated access); its issuer, audience, lifetime and verified email are still checked. A token
with a signature is always verified, so a forged one is never "trusted". Callers read the token Cloud
Run checked: `X-Serverless-Authorization` when present, else `Authorization` (`iam_checked_token`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, cast

import jwt
from google.auth import exceptions as gauth_exc
from google.auth import transport
from google.oauth2 import id_token
from werkzeug.datastructures import Headers

from appgen import auth, errors
from appgen.redact import redact

# Google publishes its signing certificates for hours ahead; re-fetching them on every delivery only costs.
CERTS_TTL_SECONDS = 3600.0
# After a failed check, certificates older than this are fetched again once (Google may have rotated keys).
CERTS_REFRESH_AFTER_SECONDS = 60.0
CLOCK_SKEW_SECONDS = 10
_GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


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
    trust_iam: bool = False,
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
    if _signature_removed(token):
        if not trust_iam:
            raise errors.Forbidden(
                f"{refusal} token (it carries no signature: behind Cloud Run IAM, which may remove it, set "
                "APPGEN_TRUST_CLOUD_RUN_IAM=1)"
            )
        claims = _claims_checked_by_iam(token, audience, refusal)
    else:
        claims = _verified_claims(token, audience, request or _default_request(), refusal)
    email = claims.get("email")
    if claims.get("email_verified") is not True or email not in allowed_emails:
        raise errors.Forbidden(f"{refusal} service account")
    return claims


def iam_checked_token(headers: Headers) -> str:
    """The bearer token Cloud Run IAM checked: `X-Serverless-Authorization` takes precedence there, and a
    caller who sends both may put anything in `Authorization`. MissingToken when there is none."""
    return auth.bearer_token(headers.get("X-Serverless-Authorization") or headers.get("Authorization"))


def _signature_removed(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2]) and parts[2] == ""


def _claims_checked_by_iam(token: str, audience: str, refusal: str) -> Mapping[str, Any]:
    """Claims of a token whose signature Cloud Run IAM verified and removed: everything but the signature."""
    options: Any = {
        "verify_signature": False,
        "verify_exp": True,
        "verify_iat": True,
        "verify_aud": True,
        "verify_iss": True,
        "require": ["iss", "aud", "exp", "iat"],
    }
    try:
        claims = jwt.decode(
            token, options=options, audience=audience, issuer=list(_GOOGLE_ISSUERS), leeway=CLOCK_SKEW_SECONDS
        )
    except jwt.PyJWTError as exc:
        raise _refused(exc, refusal) from exc
    return cast(Mapping[str, Any], claims)


def _verified_claims(
    token: str, audience: str, request: Callable[..., Any], refusal: str
) -> Mapping[str, Any]:
    try:
        return _verify(token, request, audience, refusal)
    except ValueError as exc:
        # An unknown key id after Google rotated its keys looks like a bad signature: refetch once.
        if not (
            isinstance(request, CachingRequest) and request.forget_older_than(CERTS_REFRESH_AFTER_SECONDS)
        ):
            raise _refused(exc, refusal) from exc
        try:
            return _verify(token, request, audience, refusal)
        except ValueError as again:
            raise _refused(again, refusal) from again


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
