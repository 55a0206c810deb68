"""Signed GCS links on Cloud Run, against a local double of the metadata server and of IAM `signBlob`.

Cloud Run's credentials hold no private key, so links are signed by IAM. The double behaves like the real
services on the points that matter: the metadata server hands out tokens carrying the scopes asked for,
and IAM refuses a token without the `cloud-platform` (or `iam`) scope, and refuses to sign as another
account. The storage client's own token carries only devstorage scopes, which is why the store signs with
separately scoped credentials. The production code fetches tokens over plain HTTP from
`GCE_METADATA_HOST`; IAM's address is fixed in google-auth, so the test's transport sends requests for
`https://iamcredentials.googleapis.com` to the double instead (nothing else is changed).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth.compute_engine import _metadata as gce_metadata
from google.auth.transport.requests import Request as AuthRequest

from appgen import errors
from appgen.cloud.gcs import GcsStore, IamSigning, default_client
from appgen.storage import ARTIFACT_BUCKET

SA = "agent-orchestrator-sa@demo-project.iam.gserviceaccount.com"
IAM = "https://iamcredentials.googleapis.com"
IAM_SCOPES = {"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/iam"}


class GoogleDouble(ThreadingHTTPServer):
    """The metadata server of a Cloud Run service running as `SA`, and IAM's signBlob."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.token_scopes: dict[str, set[str]] = {}  # access token -> the scopes it was issued for
        self.signed: list[tuple[bytes, set[str]]] = []  # each payload signed, with its token's scopes

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: GoogleDouble

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.headers.get("Metadata-Flavor") != "Google":
            return self._send(403, {"error": "missing Metadata-Flavor"})
        account = "/computeMetadata/v1/instance/service-accounts/default/"
        if url.path in ("", "/"):  # google-auth's ping
            return self._send(200, b"", "text/plain")
        if url.path == account:
            return self._send(200, {"email": SA, "aliases": ["default"], "scopes": sorted(IAM_SCOPES)})
        if url.path == account + "token":
            scopes = set(parse_qs(url.query).get("scopes", [""])[0].split(",")) - {""}
            token = f"ya29.{uuid.uuid4().hex}"
            self.server.token_scopes[token] = scopes
            return self._send(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
        if url.path == "/computeMetadata/v1/universe/universe-domain":
            return self._send(200, b"googleapis.com", "text/plain")
        return self._send(404, b"", "text/plain")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        scopes = self.server.token_scopes.get(token)
        if scopes is None:
            return self._send(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        if not scopes & IAM_SCOPES:
            reason = {"reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
            return self._send(
                403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "details": [reason]}}
            )
        if self.path != f"/v1/projects/-/serviceAccounts/{SA}:signBlob":  # tokenCreator on itself only
            return self._send(403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}})
        payload = base64.b64decode(body["payload"])
        self.server.signed.append((payload, scopes))
        signature = self.server.key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        self._send(200, {"keyId": "k1", "signedBlob": base64.b64encode(signature).decode()})


class _ToDouble(requests.Session):
    def __init__(self, double: str):
        super().__init__()
        self._double = double

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        return super().request(method, str(url).replace(IAM, self._double), *args, **kwargs)


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[GoogleDouble]:
    double = GoogleDouble()
    thread = threading.Thread(target=double.serve_forever, daemon=True)
    thread.start()
    # Application Default Credentials find nothing but the metadata server, as on Cloud Run.
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", double.host)
    monkeypatch.setenv("GCE_METADATA_IP", double.host)
    # google-auth reads GCE_METADATA_HOST once, when it is first imported (perhaps by an earlier test).
    monkeypatch.setattr(gce_metadata, "_GCE_METADATA_HOST", double.host)
    try:
        yield double
    finally:
        double.shutdown()
        double.server_close()


def _auth_request(double: GoogleDouble) -> AuthRequest:
    return AuthRequest(session=_ToDouble(f"http://{double.host}"))


def test_links_are_signed_by_iam_as_the_service_with_a_cloud_platform_token(google: GoogleDouble) -> None:
    client = default_client("demo-project")  # the storage client Cloud Run's service builds
    store = GcsStore(client, {ARTIFACT_BUCKET: "demo-artifacts"}, auth_request=_auth_request(google))

    link = store.signed_url(ARTIFACT_BUCKET, "u/p/job.zip", 900)

    url = urlsplit(link.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.netloc == "storage.googleapis.com" and url.path == "/demo-artifacts/u/p/job.zip"
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256" and query["X-Goog-Expires"] == "900"
    assert query["X-Goog-Credential"].startswith(SA + "/")
    [(payload, scopes)] = google.signed
    assert "https://www.googleapis.com/auth/cloud-platform" in scopes
    assert payload.startswith(b"GOOG4-RSA-SHA256\n" + query["X-Goog-Date"].encode())
    # The link carries IAM's signature of exactly that string (verify raises when it does not).
    google.key.public_key().verify(
        bytes.fromhex(query["X-Goog-Signature"]), payload, padding.PKCS1v15(), hashes.SHA256()
    )


def test_the_storage_clients_own_token_is_refused_by_iam_with_a_reason_an_operator_can_act_on(
    google: GoogleDouble,
) -> None:
    client = default_client("demo-project")  # its credentials carry the devstorage scopes only
    own = IamSigning(client._credentials, _auth_request(google))

    with pytest.raises(errors.ConfigError) as refused:
        own.sign_bytes(b"GOOG4-RSA-SHA256\n...")

    assert "roles/iam.serviceAccountTokenCreator" in refused.value.message
    assert "cloud-platform" in refused.value.message
    assert google.signed == []
    assert all(not scopes & IAM_SCOPES for scopes in google.token_scopes.values())
