"""Google OIDC tokens on internal endpoints (cloud mode): real google-auth verification of tokens signed
with a locally generated RSA key whose certificate a fake `google.auth.transport.Request` serves."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

import flask
import pytest

from appgen import errors, internal_api
from appgen.auth import mint_internal_token
from appgen.cloud import oidc
from appgen.cloud.oidc import CachingRequest, verify_google_oidc
from appgen.services import Services
from appgen.settings import Settings
from tests.fixtures.google import AUDIENCE, CERT, CERTS_URL, SA, FakeGoogle, keypair, token


def test_a_cloud_tasks_token_of_the_service_account_is_accepted() -> None:
    google = FakeGoogle()
    claims = verify_google_oidc(token(), AUDIENCE, [SA], request=google)
    assert claims["email"] == SA
    assert claims["aud"] == AUDIENCE
    assert google.fetches == [CERTS_URL]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "https://someone-else.example"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "expired"),
    ],
)
def test_tokens_for_another_audience_issuer_or_time_are_refused(
    overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(errors.Forbidden) as raised:
        verify_google_oidc(token(**overrides), AUDIENCE, [SA], request=FakeGoogle())
    assert raised.value.http_status == 403
    assert raised.value.message.startswith("internal endpoints accept only the task queue's token (")
    assert reason in raised.value.message.lower()


@pytest.mark.parametrize(
    "overrides",
    [{"email": "someone@demo-project.iam.gserviceaccount.com"}, {"email_verified": False}, {"email": None}],
)
def test_tokens_of_other_accounts_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(errors.Forbidden) as raised:
        verify_google_oidc(token(**overrides), AUDIENCE, [SA], request=FakeGoogle())
    assert raised.value.message == "internal endpoints accept only the task queue's service account"


def test_a_token_signed_by_another_key_is_refused() -> None:
    forger, _ = keypair("key-1")  # same key id, different key
    with pytest.raises(errors.Forbidden, match="token"):
        verify_google_oidc(token(forger), AUDIENCE, [SA], request=FakeGoogle())


def test_garbage_and_user_tokens_are_refused() -> None:
    for value in ("not-a-jwt", mint_internal_token("s" * 40)):
        with pytest.raises(errors.Forbidden):
            verify_google_oidc(value, AUDIENCE, [SA], request=FakeGoogle())


def test_unreachable_certificates_are_a_dependency_outage_not_a_refusal() -> None:
    with pytest.raises(errors.DependencyUnavailable) as raised:
        verify_google_oidc(token(), AUDIENCE, [SA], request=FakeGoogle(status=503))
    assert raised.value.http_status == 503
    assert raised.value.message == "Google's token certificates could not be fetched"


def test_nothing_to_check_against_is_a_config_error() -> None:
    for audience, allowed in (("", [SA]), (AUDIENCE, [])):
        with pytest.raises(
            errors.ConfigError, match="APPGEN_TASKS_AUDIENCE and APPGEN_TASKS_SERVICE_ACCOUNT"
        ):
            verify_google_oidc(token(), audience, allowed, request=FakeGoogle())


def test_certificates_are_cached_and_refetched_once_after_a_key_rotation() -> None:
    now = [1000.0]
    google = FakeGoogle()
    cached = CachingRequest(google, ttl_seconds=3600, clock=lambda: now[0])
    verify_google_oidc(token(), AUDIENCE, [SA], request=cached)
    verify_google_oidc(token(), AUDIENCE, [SA], request=cached)
    assert len(google.fetches) == 1

    rotated, rotated_cert = keypair("key-2")
    google.certs = {"key-1": CERT, "key-2": rotated_cert}
    now[0] += 30  # too soon to suspect a rotation: the cached list stands and the token is refused
    with pytest.raises(errors.Forbidden):
        verify_google_oidc(token(rotated), AUDIENCE, [SA], request=cached)
    assert len(google.fetches) == 1
    now[0] += 60  # a minute later an unknown key id makes it fetch the list again, once
    assert verify_google_oidc(token(rotated), AUDIENCE, [SA], request=cached)["email"] == SA
    assert len(google.fetches) == 2


# -- tokens whose signature Cloud Run IAM removed ------------------------------------------------------


def _stripped(signed: str) -> str:
    """The token as Cloud Run passes it on after its IAM check: header and claims, an empty signature."""
    header, claims, _ = signed.split(".")
    return f"{header}.{claims}."


def test_a_token_without_signature_is_refused_unless_cloud_run_iam_stands_in_front() -> None:
    with pytest.raises(errors.Forbidden) as raised:
        verify_google_oidc(_stripped(token()), AUDIENCE, [SA], request=FakeGoogle())
    assert "APPGEN_TRUST_CLOUD_RUN_IAM=1" in raised.value.message

    google = FakeGoogle()
    claims = verify_google_oidc(_stripped(token()), AUDIENCE, [SA], request=google, trust_iam=True)
    assert claims["email"] == SA and google.fetches == [], "nothing left to verify the signature with"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "https://someone-else.example"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "expired"),
        ({"email": "someone@demo-project.iam.gserviceaccount.com"}, "service account"),
        ({"email_verified": False}, "service account"),
    ],
)
def test_behind_cloud_run_iam_everything_but_the_signature_is_still_checked(
    overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(errors.Forbidden) as raised:
        verify_google_oidc(
            _stripped(token(**overrides)), AUDIENCE, [SA], request=FakeGoogle(), trust_iam=True
        )
    assert reason in raised.value.message.lower()


def test_behind_cloud_run_iam_a_token_with_a_forged_signature_is_still_refused() -> None:
    forger, _ = keypair("key-1")
    with pytest.raises(errors.Forbidden, match="token"):
        verify_google_oidc(token(forger), AUDIENCE, [SA], request=FakeGoogle(), trust_iam=True)


def test_the_internal_endpoint_reads_the_token_cloud_run_checked() -> None:
    """With both headers, Cloud Run IAM checks X-Serverless-Authorization and passes Authorization on
    untouched: the endpoint reads the former, so no caller can claim an identity IAM did not check."""
    behind_iam = dataclasses.replace(CLOUD, trust_cloud_run_iam=True)
    ours, theirs = _stripped(token()), _stripped(token(email="intruder@demo-project.iam.gserviceaccount.com"))

    accepted = _call(behind_iam, "Bearer not-a-token", serverless_authorization=f"Bearer {ours}")
    assert accepted.status_code == 404  # past authentication: the unknown path is what stops it

    refused = _call(behind_iam, f"Bearer {ours}", serverless_authorization=f"Bearer {theirs}")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"].endswith("service account")

    without_trust = _call(CLOUD, f"Bearer {ours}")
    assert without_trust.status_code == 403


# -- the internal endpoint, wired -----------------------------------------------------------------


def _call(
    settings: Settings,
    authorization: str | None,
    path: str = "/internal/nowhere",
    serverless_authorization: str | None = None,
) -> flask.Response:
    services = Services(settings, control_plane=None, dispatcher=None, artifacts=None, scratch=None)  # type: ignore[arg-type]
    app = flask.Flask(__name__)
    headers = {"Authorization": authorization} if authorization else {}
    if serverless_authorization:
        headers["X-Serverless-Authorization"] = serverless_authorization
    with app.test_request_context(path, method="POST", json={"taskId": str(uuid.uuid4())}, headers=headers):
        return internal_api.handle(flask.request, lambda: services)


CLOUD = Settings(
    dispatcher="cloud-tasks",
    tasks_service_account=SA,
    tasks_audience=AUDIENCE,
    internal_secret="local-secret-" + "x" * 30,
)


def test_cloud_mode_internal_endpoints_accept_the_oidc_token_and_refuse_the_local_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(oidc, "_default", CachingRequest(FakeGoogle()))
    accepted = _call(CLOUD, f"Bearer {token()}")
    # Past authentication: the unknown path is what stops it.
    assert accepted.status_code == 404
    assert accepted.get_json()["error"]["message"] == "no internal endpoint /internal/nowhere"

    local = _call(CLOUD, f"Bearer {mint_internal_token(CLOUD.internal_secret)}")
    assert local.status_code == 403
    assert local.get_json()["error"]["code"] == "forbidden"

    missing = _call(CLOUD, None)
    assert missing.status_code == 401
    assert missing.get_json()["error"]["code"] == "missing_token"


def test_local_mode_keeps_the_local_signed_token_and_refuses_google_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(oidc, "_default", CachingRequest(FakeGoogle()))
    local = Settings(internal_secret=CLOUD.internal_secret)
    accepted = _call(local, f"Bearer {mint_internal_token(local.internal_secret)}")
    assert accepted.status_code == 404
    assert accepted.get_json()["error"]["message"] == "no internal endpoint /internal/nowhere"
    refused = _call(local, f"Bearer {token()}")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
