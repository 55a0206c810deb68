"""The verifier remembers the tokens that passed, so a client polling with the same token is not checked
again on every request, without accepting anything it would refuse: a remembered token still expires at
its `exp` (not a moment later), is checked again after `remember_s`, is matched by its whole exact text
(no prefix, extension or other token with the same header or claims), answers only its own claims (never
another user's, also under concurrent use), and at most `remember_max` are kept."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

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


class FixedClock:
    """The verifier's clock, set by the test (PyJWT itself still checks against the real time)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


ROTATED = "a-rotated-secret-0123456789-abcdefghijkl"  # after rotating, only a remembered token still passes


def test_a_remembered_token_is_not_served_at_or_after_its_exp() -> None:
    clock = FixedClock()
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET, remember_s=600, clock=clock)
    claims = token_claims(ttl=30)  # exp well inside remember_s: exp is what ends it
    token = hs256(claims)
    assert verifier.verify(token) == claims
    verifier.secret = ROTATED
    clock.now = claims["exp"] - 0.001
    assert verifier.verify(token) == claims, "remembered until just before exp"
    for after in (0, 0.001, 3600):
        clock.now = claims["exp"] + after
        with pytest.raises(errors.InvalidToken):  # checked again (and refused by the rotated secret)
            verifier.verify(token)


def test_a_remembered_token_matches_by_its_whole_text_only() -> None:
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET)
    claims = token_claims()
    token = hs256(claims)
    assert verifier.verify(token) == claims
    verifier.secret = ROTATED  # from here on only a remembered text passes
    head, body, signature = token.split(".")
    other_claims = hs256({**claims, "sub": str(uuid.uuid4())}, secret=LOCAL_JWT_SECRET)
    near_misses = {
        "a prefix": token[:-1],
        "an extension": token + "A",
        "the same header and claims, another signature": f"{head}.{body}.{signature[::-1]}",
        "the same header and signature, other claims": f"{head}.{other_claims.split('.')[1]}.{signature}",
        "another token with the same header": other_claims,
        "different case": token.swapcase(),
    }
    for name, text in near_misses.items():
        assert text != token
        with pytest.raises(errors.InvalidToken):
            verifier.verify(text)
            pytest.fail(f"{name} was answered from the remembered token")
    assert verifier.verify(token) == claims


def test_each_token_answers_only_its_own_users_claims() -> None:
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET)
    now = int(time.time())
    same_times = {"iat": now, "exp": now + 600}  # tokens of two users issued in the same second
    metadata = {"app_metadata": {"provider": "email"}}
    alice, bob = token_claims(**same_times, **metadata), token_claims(**same_times, **metadata)
    tokens = {hs256(alice): alice, hs256(bob): bob}
    for _ in range(2):  # checked, then remembered
        for token, claims in tokens.items():
            assert verifier.verify(token) == claims

    handed = verifier.verify(next(iter(tokens)))
    handed["sub"] = bob["sub"]  # a caller changing what it was handed changes nothing remembered
    handed["app_metadata"]["provider"] = "changed"
    assert verifier.verify(next(iter(tokens))) == alice

    def check(token: str) -> bool:
        return verifier.verify(token)["sub"] == tokens[token]["sub"]

    with ThreadPoolExecutor(8) as pool:  # concurrent requests of both users
        assert all(pool.map(check, list(tokens) * 500))


def test_remembered_tokens_stay_within_remember_max_however_many_pass() -> None:
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET, remember_max=16)
    for _ in range(100):
        claims = token_claims()
        assert verifier.verify(hs256(claims)) == claims
    assert len(verifier._passed) == 16  # the bound itself is what is tested
