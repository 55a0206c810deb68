"""Supabase access tokens: verification on every public route, and minting for local use.

Supabase signs user access tokens either with the project's legacy JWT secret (HS256) or with its
asymmetric signing keys (RS256/ES256), whose public halves the project publishes as a JWKS. A verified
token yields the claims the control plane runs under (`sub` becomes `auth.uid()`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from appgen import errors
from appgen.ids import parse_uuid

log = logging.getLogger(__name__)

AUDIENCE = "authenticated"
INTERNAL_AUDIENCE = "appgen-internal"
MAX_TOKEN_CHARS = 16_384
# Asymmetric algorithms Supabase signs with, and the key type each needs (so a key can never be used with
# an algorithm it was not made for: no RSA key verifying an "HS256" token, no alg confusion).
_ASYMMETRIC = {"RS256": "RSA", "ES256": "EC"}


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header; MissingToken when there is none."""
    if not authorization:
        raise errors.MissingToken()
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.MissingToken("the Authorization header must be `Bearer <access token>`")
    return token.strip()


class JwksKeys:
    """The project's public signing keys, fetched from its JWKS endpoint and cached.

    Keys are refreshed after `ttl_s`, and at once when a token names a `kid` the cache does not hold (a key
    rotation) — but at most once per `min_refresh_s`, so tokens with made-up `kid`s cannot turn into a
    flood of requests to the key server. While the endpoint is down, cached keys keep working.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = 600.0,
        min_refresh_s: float = 30.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url = url
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._loaded_at: float | None = None  # last scheduled load (first use, then every ttl_s)
        self._forced_at: float | None = None  # last load forced by an unknown kid
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at > self._ttl_s:
                if self._may(self._loaded_at, now):
                    self._loaded_at = now
                    self._load(required=self._fetched_at is None)
                elif self._fetched_at is None:
                    raise errors.DependencyUnavailable("the token signing keys (JWKS) are unavailable")
            if kid not in self._keys and self._may(self._forced_at, now):
                self._forced_at = now  # an unknown kid: maybe a rotation, so look once more
                self._load(required=True)
            if kid not in self._keys:
                raise errors.InvalidToken("the access token is signed by an unknown key")
            return self._keys[kid]

    def _may(self, last: float | None, now: float) -> bool:
        return last is None or now - last >= self._min_refresh_s

    def _load(self, *, required: bool) -> None:
        """Fetch the keys; on failure keep the cached ones unless fresh keys are `required`."""
        self.fetches += 1
        try:
            response = httpx.get(self.url, timeout=self._timeout_s, follow_redirects=False)
            response.raise_for_status()
            keys = _parse_jwks(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            log.warning("JWKS fetch failed: %s", exc, extra={"action": "auth.jwks_failed", "url": self.url})
            if required:
                raise errors.DependencyUnavailable(
                    "the token signing keys (JWKS) could not be fetched"
                ) from exc
            return
        self._keys = keys
        self._fetched_at = self._clock()


def _parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in _ASYMMETRIC.values():
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # a key type or curve this verifier does not support: tokens it signed are refused
    return keys


class TokenVerifier:
    """Verifies a signed-in user's access token: signature (HS256 with the secret, or RS256/ES256 with the
    JWKS key its `kid` names), expiry, `aud` and `role` = authenticated, and `iss` when configured.

    A token that passed is remembered, by its exact text, until its `exp` but for at most
    `remember_s` seconds: a client polling its job sends the same token for an hour, and checking it
    again each time was about a quarter of the status route's CPU (PyJWT decodes it three times). The
    answer for the same text and the same keys cannot change before `exp`; `remember_s` bounds how long
    a token signed by a key the project has since withdrawn from its JWKS is still accepted (the keys
    themselves are cached longer, see `JwksKeys`). Refused tokens are never remembered. At most
    `remember_max` tokens, the least recently used dropped first."""

    def __init__(
        self,
        secret: str | None,
        jwks: JwksKeys | None = None,
        issuer: str | None = None,
        *,
        remember_s: float = 60.0,
        remember_max: int = 2048,
        clock: Callable[[], float] = time.time,
    ):
        self.secret = secret
        self.jwks = jwks
        self.issuer = issuer
        self._remember_s = remember_s
        self._remember_max = remember_max
        self._clock = clock
        # token -> (until, its claims as JSON text): each answer is a fresh object, so no request can
        # change what a later request with the same token is handed.
        self._passed: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._passed_lock = threading.Lock()

    def verify(self, token: str) -> dict[str, Any]:
        now = self._clock()
        with self._passed_lock:
            passed = self._passed.get(token)
            if passed is not None and now < passed[0]:  # PyJWT too refuses a token at its exp
                self._passed.move_to_end(token)
                remembered: dict[str, Any] = json.loads(passed[1])
                return remembered
        claims = self._verify(token)
        until = min(float(claims["exp"]), now + self._remember_s)  # exp: verified, a finite number
        with self._passed_lock:
            self._passed[token] = (until, json.dumps(claims))
            self._passed.move_to_end(token)
            while len(self._passed) > self._remember_max:
                self._passed.popitem(last=False)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_CHARS:
            raise errors.InvalidToken("the access token is too long")
        try:
            header = jwt.get_unverified_header(token)
            # Types first, on the unverified claims: PyJWT reads a numeric string `exp` as a number and
            # fails with TypeError/OverflowError on some others, and the control plane casts `sub` to uuid.
            _check_claim_types(jwt.decode(token, options={"verify_signature": False}))
        except jwt.PyJWTError as exc:
            raise errors.InvalidToken(f"the access token is not valid: {_reason(exc)}") from exc
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise errors.InvalidToken("the access token's header names no signing algorithm")
        key = self._key(alg, header.get("kid"))
        required = ["sub", "exp", "aud", "role"] + (["iss"] if self.issuer else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError as exc:
            raise errors.TokenExpired() from exc
        except jwt.PyJWTError as exc:
            raise errors.InvalidToken(f"the access token is not valid: {_reason(exc)}") from exc
        if claims.get("role") != "authenticated":
            raise errors.InvalidToken("the access token is not a signed-in user's token")
        return claims

    def _key(self, alg: Any, kid: Any) -> Any:
        if alg == "HS256":
            if not self.secret:
                raise errors.InvalidToken("HS256 access tokens are not accepted here")
            return self.secret
        if alg in _ASYMMETRIC:
            if self.jwks is None:
                raise errors.InvalidToken(
                    f"{alg} access tokens need the project's JWKS (SUPABASE_URL or SUPABASE_JWKS_URL)"
                )
            if not isinstance(kid, str) or not kid:
                raise errors.InvalidToken(f"the {alg} access token names no signing key (kid)")
            jwk = self.jwks.key(kid)
            if jwk.key_type != _ASYMMETRIC[alg] or jwk.algorithm_name != alg:
                raise errors.InvalidToken("the access token's algorithm does not match its signing key")
            return jwk.key
        raise errors.InvalidToken(f"access tokens signed with {alg!r} are not accepted")


def _check_claim_types(claims: dict[str, Any]) -> None:
    """Claims the API and the control plane read must have the types Supabase issues them with."""
    for name in ("exp", "nbf", "iat"):  # NumericDate: a JSON number, never a string or a boolean
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise errors.InvalidToken(f"the access token's {name} claim is not a number of seconds")
    if "sub" in claims and parse_uuid(claims["sub"]) is None:
        raise errors.InvalidToken("the access token's subject is not a user id")
    if "is_anonymous" in claims and not isinstance(claims["is_anonymous"], bool):
        raise errors.InvalidToken("the access token's is_anonymous claim is not a boolean")


_verifiers: dict[tuple[str | None, str | None, str | None], TokenVerifier] = {}
_verifiers_lock = threading.Lock()


def verifier(secret: str | None, jwks_url: str | None = None, issuer: str | None = None) -> TokenVerifier:
    """The process's verifier for this configuration (one JWKS cache per endpoint, kept across requests)."""
    with _verifiers_lock:
        key = (secret, jwks_url, issuer)
        if key not in _verifiers:
            _verifiers[key] = TokenVerifier(secret, JwksKeys(jwks_url) if jwks_url else None, issuer)
        return _verifiers[key]


def mint_user_token(
    user_id: uuid.UUID | str, secret: str, ttl_seconds: int = 3600, **extra_claims: Any
) -> str:
    """A Supabase-style access token, as `appgen token` prints it for local use and tests."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": "authenticated",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
        **extra_claims,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def mint_internal_token(secret: str, ttl_seconds: int = 300) -> str:
    """The token the local dispatcher sends to internal endpoints (Cloud Tasks sends an OIDC token)."""
    now = int(time.time())
    return jwt.encode(
        {"aud": INTERNAL_AUDIENCE, "iss": "appgen-local-dispatcher", "iat": now, "exp": now + ttl_seconds},
        secret,
        algorithm="HS256",
    )


def verify_internal_token(authorization: str | None, secret: str) -> None:
    if not secret:
        raise errors.Forbidden("internal endpoints are disabled: APPGEN_INTERNAL_SECRET is not set")
    token = bearer_token(authorization)
    try:
        jwt.decode(
            token, secret, algorithms=["HS256"], audience=INTERNAL_AUDIENCE, options={"require": ["exp"]}
        )
    except jwt.PyJWTError as exc:
        raise errors.Forbidden("internal endpoints accept only the dispatcher's token") from exc


def _reason(exc: jwt.PyJWTError) -> str:
    text = str(exc) or type(exc).__name__
    return text[0].lower() + text[1:] if text else text
