"""Supabase access tokens: verification on every public route, and minting for local use.

Supabase signs user access tokens with the project's JWT secret (HS256). A verified token yields the claims
the control plane runs under (`sub` becomes `auth.uid()`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from appgen import errors

AUDIENCE = "authenticated"
INTERNAL_AUDIENCE = "appgen-internal"


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header; MissingToken when there is none."""
    if not authorization:
        raise errors.MissingToken()
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.MissingToken("the Authorization header must be `Bearer <access token>`")
    return token.strip()


def verify_user_token(token: str, secret: str) -> dict[str, Any]:
    """Claims of a valid signed-in user's access token; InvalidToken/TokenExpired otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "aud", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise errors.TokenExpired() from exc
    except jwt.PyJWTError as exc:
        raise errors.InvalidToken(f"the access token is not valid: {_reason(exc)}") from exc
    if claims.get("role") != "authenticated":
        raise errors.InvalidToken("the access token is not a signed-in user's token")
    try:
        uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise errors.InvalidToken("the access token's subject is not a user id") from exc
    return claims


def mint_user_token(user_id: uuid.UUID | str, secret: str, ttl_seconds: int = 3600) -> str:
    """A Supabase-style access token, as `appgen token` prints it for local use and tests."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": "authenticated",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
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
