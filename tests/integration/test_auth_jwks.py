"""Access-token verification with the project's asymmetric signing keys: a real JWKS endpoint (an HTTP
server in a thread serving generated EC P-256 and RSA keys), the API on a real database, and every way a
token can be wrong answering 401/403/503 with a code, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import flask.testing
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from appgen import auth, errors
from appgen.gateway import ControlPlane
from appgen.localstack.server import create_app
from appgen.services import Services
from appgen.settings import LOCAL_JWT_SECRET, load_settings
from tests.fixtures.specs import small_spec
from tests.fixtures.tokens import token_claims
from tests.integration.apitest import JOBS, make_services

JWKS_PATH = "/auth/v1/.well-known/jwks.json"
ISSUER = "https://project.supabase.co/auth/v1"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        algorithm = ECAlgorithm if self.alg == "ES256" else RSAAlgorithm
        document = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**document, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def token(self, ttl: int = 3600, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        body = token_claims(ttl, **{"iss": ISSUER, **claims})
        return jwt.encode(
            body, self.private, algorithm=self.alg, headers={"kid": self.kid, **(headers or {})}
        )


def ec_key(kid: str = "ec-1") -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def rsa_key(kid: str = "rsa-1") -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class JwksServer:
    """The project's JWKS endpoint: serves whatever keys the test publishes, counts fetches, can fail."""

    keys: list[SigningKey]
    url: str = ""
    fetches: int = 0
    failing: bool = False
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def start(self) -> JwksServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                if self.path != JWKS_PATH or outer.failing:
                    self.send_response(503 if outer.failing else 404)
                    self.end_headers()
                    return
                body = json.dumps({"keys": [k.jwk() for k in outer.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def keys() -> list[SigningKey]:
    return [ec_key(), rsa_key()]


@pytest.fixture
def jwks(keys: list[SigningKey]) -> Iterator[JwksServer]:
    server = JwksServer(list(keys)).start()
    yield server
    server.stop()


@pytest.fixture
def services(control_plane: ControlPlane, tmp_path: Path, jwks: JwksServer) -> Services:
    return make_services(control_plane, tmp_path, supabase_jwks_url=jwks.url + JWKS_PATH, jwt_issuer=ISSUER)


@pytest.fixture
def client(services: Services) -> flask.testing.FlaskClient:
    return create_app(lambda: services).test_client()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    return str(response.json["error"]["code"])


# -- accepted ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", [0, 1], ids=["ES256", "RS256"])
def test_asymmetric_tokens_of_the_project_are_accepted(
    client: flask.testing.FlaskClient, keys: list[SigningKey], jwks: JwksServer, which: int
) -> None:
    key = keys[which]
    user = str(uuid.uuid4())
    submitted = client.post(JOBS, json=small_spec(1), headers=_bearer(key.token(sub=user)))
    assert submitted.status_code == 202, submitted.json
    listed = client.get(JOBS, headers=_bearer(key.token(sub=user)))
    assert listed.status_code == 200
    assert [j["jobId"] for j in listed.json["jobs"]] == [submitted.json["jobId"]]
    assert jwks.fetches == 1  # cached across requests


def test_legacy_hs256_tokens_still_work_next_to_the_jwks(client: flask.testing.FlaskClient) -> None:
    token = auth.mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET, iss=ISSUER)
    response = client.get(JOBS, headers=_bearer(token))
    assert response.status_code == 200 and response.json == {"jobs": []}


def test_a_rotated_key_is_fetched_on_its_first_unknown_kid(
    client: flask.testing.FlaskClient, jwks: JwksServer, keys: list[SigningKey]
) -> None:
    assert client.get(JOBS, headers=_bearer(keys[0].token())).status_code == 200
    rotated = ec_key("ec-2")
    jwks.keys.append(rotated)
    response = client.get(JOBS, headers=_bearer(rotated.token()))
    assert response.status_code == 200, response.json
    assert jwks.fetches == 2


def test_unknown_kids_refresh_the_keys_at_most_once_per_interval(
    client: flask.testing.FlaskClient, jwks: JwksServer
) -> None:
    stranger = ec_key("not-published")
    for _ in range(5):
        response = client.get(JOBS, headers=_bearer(stranger.token()))
        assert _error(response, 401) == "invalid_token"
        assert "unknown key" in response.json["error"]["message"]
    assert jwks.fetches == 2  # the first load, then one refresh for the unknown kid; then rate-limited


def test_the_key_cache_refreshes_after_its_ttl_and_survives_an_outage(jwks: JwksServer) -> None:
    now = [0.0]
    cache = auth.JwksKeys(jwks.url + JWKS_PATH, ttl_s=600, min_refresh_s=30, clock=lambda: now[0])
    assert cache.key("ec-1").key_id == "ec-1" and jwks.fetches == 1
    now[0] = 601
    jwks.failing = True
    assert cache.key("ec-1").key_id == "ec-1"  # stale keys keep working while the endpoint is down
    assert jwks.fetches == 2
    now[0] = 700
    jwks.failing = False
    jwks.keys.append(rsa_key("rsa-2"))
    assert cache.key("rsa-2").key_id == "rsa-2" and jwks.fetches == 3


# -- refused -------------------------------------------------------------------------------------------
def test_expired_asymmetric_tokens_answer_token_expired(
    client: flask.testing.FlaskClient, keys: list[SigningKey]
) -> None:
    response = client.get(JOBS, headers=_bearer(keys[0].token(ttl=-5)))
    assert _error(response, 401) == "token_expired"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "somebody-else"}, "audience"),
        ({"role": "anon"}, "signed-in user"),
        ({"role": "service_role"}, "signed-in user"),
        ({"iss": "https://other.supabase.co/auth/v1"}, "issuer"),
        ({"sub": "not-a-uuid"}, "subject"),
    ],
)
def test_claims_are_checked(
    client: flask.testing.FlaskClient, keys: list[SigningKey], claims: dict[str, Any], reason: str
) -> None:
    response = client.get(JOBS, headers=_bearer(keys[1].token(**claims)))
    assert _error(response, 401) == "invalid_token"
    assert reason in response.json["error"]["message"]


def test_a_configured_issuer_is_required(client: flask.testing.FlaskClient, keys: list[SigningKey]) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "role": "authenticated", "aud": "authenticated", "exp": now + 60},
        keys[0].private,
        algorithm="ES256",
        headers={"kid": keys[0].kid},
    )
    assert _error(client.get(JOBS, headers=_bearer(token)), 401) == "invalid_token"


def test_a_token_signed_by_another_key_under_a_published_kid_is_refused(
    client: flask.testing.FlaskClient,
) -> None:
    impostor = ec_key("ec-1")  # same kid as the published key, different private key
    response = client.get(JOBS, headers=_bearer(impostor.token()))
    assert _error(response, 401) == "invalid_token"
    assert "signature" in response.json["error"]["message"].lower()


def test_algorithm_confusion_is_refused(client: flask.testing.FlaskClient, keys: list[SigningKey]) -> None:
    # RS256 header naming the EC key: the key type must match the algorithm.
    wrong_type = keys[1].token(headers={"kid": "ec-1"})
    assert _error(client.get(JOBS, headers=_bearer(wrong_type)), 401) == "invalid_token"
    # HS256 "signed" with the RSA public key as the secret: HS256 only ever uses the project's secret.
    public_pem = (
        keys[1]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})
    claims = _b64({"sub": str(uuid.uuid4()), "role": "authenticated", "aud": "authenticated", "exp": 2**40})
    signature = hmac.new(public_pem, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{claims}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert _error(client.get(JOBS, headers=_bearer(forged)), 401) == "invalid_token"
    # alg none
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{claims}."
    response = client.get(JOBS, headers=_bearer(unsigned))
    assert _error(response, 401) == "invalid_token" and "'none'" in response.json["error"]["message"]


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        "....",
        _b64({"alg": "ES256"}) + "." + _b64({}) + ".c2ln",  # no kid
        _b64({"alg": "ES256", "kid": 7}) + "." + _b64({}) + ".c2ln",  # kid not a string
        _b64({"alg": "RS256", "kid": "rsa-1"}) + ".!!!.c2ln",  # payload not base64
        _b64({"alg": "RS256", "kid": "rsa-1"}) + "." + base64.urlsafe_b64encode(b"[1]").decode() + ".c2ln",
        "e30." * 3,
        "x" * 20_000,
        "ünïcödé.ünïcödé.ünïcödé",
    ],
)
def test_malformed_tokens_answer_401_with_a_code(client: flask.testing.FlaskClient, token: str) -> None:
    for method, path in (("GET", JOBS), ("POST", JOBS), ("GET", f"{JOBS}/{uuid.uuid4()}")):
        response = client.open(path, method=method, headers=_bearer(token), json=small_spec(1))
        assert _error(response, 401) == "invalid_token"


def test_anonymous_users_may_read_but_not_submit(
    client: flask.testing.FlaskClient, keys: list[SigningKey]
) -> None:
    token = keys[0].token(is_anonymous=True)
    refused = client.post(JOBS, json=small_spec(1), headers=_bearer(token))
    assert _error(refused, 403) == "anonymous_user"
    assert "sign in" in refused.json["error"]["message"]
    assert client.get(JOBS, headers=_bearer(token)).json == {"jobs": []}
    hs = auth.mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET, iss=ISSUER, is_anonymous=True)
    assert _error(client.post(JOBS, json=small_spec(1), headers=_bearer(hs)), 403) == "anonymous_user"


def test_an_unreachable_jwks_answers_503_with_retry_after(
    client: flask.testing.FlaskClient, jwks: JwksServer, keys: list[SigningKey]
) -> None:
    jwks.failing = True
    response = client.get(JOBS, headers=_bearer(keys[0].token()))
    assert _error(response, 503) == "unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_asymmetric_tokens_without_a_jwks_are_refused(
    control_plane: ControlPlane, tmp_path: Path, keys: list[SigningKey]
) -> None:
    services = make_services(control_plane, tmp_path)
    client = create_app(lambda: services).test_client()
    response = client.get(JOBS, headers=_bearer(keys[0].token()))
    assert _error(response, 401) == "invalid_token"
    assert "SUPABASE_JWKS_URL" in response.json["error"]["message"]


def test_settings_derive_the_jwks_url_from_the_project_url() -> None:
    settings = load_settings({"SUPABASE_URL": "https://abc.supabase.co/"})
    assert settings.supabase_jwks_url == "https://abc.supabase.co/auth/v1/.well-known/jwks.json"
    explicit = load_settings({"SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_JWKS_URL": "http://k/j"})
    assert explicit.supabase_jwks_url == "http://k/j"
    assert load_settings({}).supabase_jwks_url is None


def test_verifier_errors_are_domain_errors(keys: list[SigningKey]) -> None:
    verifier = auth.TokenVerifier(LOCAL_JWT_SECRET)
    with pytest.raises(errors.InvalidToken):
        verifier.verify(keys[0].token())
    with pytest.raises(errors.TokenExpired):
        verifier.verify(auth.mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET, ttl_seconds=-1))
