"""A validly signed token with claims of the wrong shape is a 401, never a crash: the verifier checks the
types of the claims the API and the control plane read, and any header or claims a fuzzer can think of
end in either accepted claims or an `invalid_token`/`token_expired`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appgen import auth, errors
from appgen.settings import LOCAL_JWT_SECRET
from tests.fixtures.tokens import b64url, hs256, token_claims

VERIFIER = auth.TokenVerifier(LOCAL_JWT_SECRET)


def _refusal(token: str) -> errors.AppgenError:
    with pytest.raises(errors.AppgenError) as raised:
        VERIFIER.verify(token)
    assert raised.value.http_status == 401, raised.value
    return raised.value


def test_a_valid_token_is_accepted() -> None:
    claims = token_claims()
    assert VERIFIER.verify(hs256(claims)) == claims


@pytest.mark.parametrize("alg", [["HS256"], {"HS256": 1}, None, 256, "none", "hs256"])
def test_a_header_whose_alg_is_not_a_supported_name_is_refused(alg: Any) -> None:
    error = _refusal(hs256(token_claims(), {"alg": alg, "typ": "JWT"}))
    assert error.code == "invalid_token"


@pytest.mark.parametrize(
    "sub",
    [
        "not-a-uuid",
        "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "{1b4e28ba-2fa1-11d2-883f-0016d3cca427}",
        "1b4e28ba2fa111d2883f0016d3cca427",
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427\n",
        "".join(chr(0x661) for _ in range(32)),  # Arabic-Indic digits: uuid.UUID reads them
        7,
        ["1b4e28ba-2fa1-11d2-883f-0016d3cca427"],
    ],
)
def test_a_subject_that_is_not_a_canonical_user_id_is_refused(sub: Any) -> None:
    error = _refusal(hs256(token_claims(sub=sub)))
    assert (error.code, error.message) == ("invalid_token", "the access token's subject is not a user id")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["4102444800", "soon", True, [4102444800], {"at": 1}, None])
def test_time_claims_must_be_numbers(claim: str, value: Any) -> None:
    error = _refusal(hs256(token_claims(**{claim: value})))
    assert error.code == "invalid_token"
    assert error.message == f"the access token's {claim} claim is not a number of seconds"


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_time_claims_must_be_finite(value: float) -> None:
    # Python's json writes and reads these; PyJWT's int() of them raised OverflowError or ValueError.
    assert _refusal(hs256(token_claims(exp=value))).code == "invalid_token"


def test_is_anonymous_must_be_a_boolean() -> None:
    assert _refusal(hs256(token_claims(is_anonymous="true"))).code == "invalid_token"
    assert VERIFIER.verify(hs256(token_claims(is_anonymous=True)))["is_anonymous"] is True


# -- fuzzing -------------------------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_claim_names = st.sampled_from(["sub", "exp", "nbf", "iat", "aud", "role", "iss", "is_anonymous", "jti"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(_claim_names, _json, max_size=4),
    header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "jku"]), _json, max_size=3),
)
def test_any_signed_claims_are_accepted_or_refused_with_401(
    changes: dict[str, Any], header: dict[str, Any]
) -> None:
    token = hs256(token_claims(**changes), {"alg": "HS256", **header})
    try:
        VERIFIER.verify(token)
    except errors.AppgenError as exc:
        assert exc.http_status == 401, exc


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(st.text(max_size=40) | st.binary(max_size=40).map(b64url), min_size=0, max_size=4))
def test_any_token_text_is_accepted_or_refused_with_401(parts: list[str]) -> None:
    try:
        VERIFIER.verify(".".join(parts))
    except errors.AppgenError as exc:
        assert exc.http_status == 401, exc
