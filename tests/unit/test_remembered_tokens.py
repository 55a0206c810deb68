"""The verifier remembers the tokens that passed, so a client polling with the same token is not checked
again on every request, without accepting anything it would refuse: a remembered token still expires at
its `exp`, is checked again after `remember_s`, is matched by its exact text, and at most `remember_max`
are kept."""

from __future__ import annotations

import time

import pytest

from appgen import auth, errors
from appgen.settings import LOCAL_JWT_SECRET
from tests.fixtures.tokens import hs256, token_claims


class Clock:
    """The real time plus an offset the test moves forward (PyJWT checks `exp` against the real time)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_a_remembered_token_is_accepted_until_it_is_checked_again_after_remember_s() -> None:
    clock = Clock()
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET, remember_s=60, clock=clock)
    claims = token_claims()
    token = hs256(claims)
    assert verifier.verify(token) == claims
    verifier.secret = "a-rotated-secret-0123456789-abcdefghijkl"  # the old signature no longer verifies
    clock.offset = 59
    assert verifier.verify(token) == claims, "remembered: not checked again within remember_s"
    clock.offset = 61
    with pytest.raises(errors.InvalidToken):
        verifier.verify(token)


def test_a_remembered_token_still_expires_at_its_exp() -> None:
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET, remember_s=600)
    claims = token_claims(ttl=1)
    token = hs256(claims)
    assert verifier.verify(token) == claims
    while time.time() < claims["exp"]:
        time.sleep(0.05)
    with pytest.raises(errors.TokenExpired):
        verifier.verify(token)


def test_only_the_exact_text_of_a_token_that_passed_is_remembered() -> None:
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET)
    token = hs256(token_claims())
    verifier.verify(token)
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    for _ in range(2):  # refused, and not remembered as refused or passed either
        with pytest.raises(errors.InvalidToken):
            verifier.verify(forged)
    other = hs256(token_claims(), secret="not-the-project-secret-0123456789-abcdef")
    with pytest.raises(errors.InvalidToken):
        verifier.verify(other)


def test_the_least_recently_used_tokens_are_forgotten_beyond_remember_max() -> None:
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET, remember_max=2)
    claims = [token_claims() for _ in range(3)]
    tokens = [hs256(c) for c in claims]
    for token in tokens:
        verifier.verify(token)
    verifier.secret = "a-rotated-secret-0123456789-abcdefghijkl"
    assert [verifier.verify(token) for token in tokens[1:]] == claims[1:], "the two latest are remembered"
    with pytest.raises(errors.InvalidToken):
        verifier.verify(tokens[0])  # forgotten, so checked again: its key is gone
