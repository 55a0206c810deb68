"""GCS store without a network: V4 signed URLs signed with a locally generated service-account key (the
URL names the mapped bucket and object, lasts 15 minutes, and verifies with the key's public half), and
upload verification against the MD5 and size GCS reports."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account

from appgen import errors
from appgen.cloud.gcs import GcsStore
from appgen.storage import ARTIFACT_BUCKET, sha256_file

SIGNER = "appgen-signer@demo-project.iam.gserviceaccount.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CREDENTIALS = service_account.Credentials.from_service_account_info(
    {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": "local-test-key",
        "private_key": KEY.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "client_email": SIGNER,
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
)
OBJECT = "owner-1/project-1/job-1/app.zip"


def _client(credentials: object = None) -> storage.Client:
    return storage.Client(project="demo-project", credentials=credentials or AnonymousCredentials())


def _assert_signed_by_key(url: str) -> dict[str, str]:
    """Rebuild the V4 string-to-sign from the URL and check the signature with the public key."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signature = bytes.fromhex(query.pop("X-Goog-Signature"))
    canonical_query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(query.items()))
    canonical_request = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            query["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    KEY.public_key().verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return query


def test_signed_urls_are_v4_for_the_mapped_bucket_and_last_15_minutes() -> None:
    store = GcsStore(_client(), {ARTIFACT_BUCKET: "acme-appgen-artifacts"}, signing_credentials=CREDENTIALS)
    before = time.time()
    signed = store.signed_url(ARTIFACT_BUCKET, OBJECT)

    parts = urlsplit(signed.url)
    assert (parts.scheme, parts.netloc) == ("https", "storage.googleapis.com")
    assert parts.path == f"/acme-appgen-artifacts/{OBJECT}"
    query = _assert_signed_by_key(signed.url)
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-Expires"] == "900"
    assert query["X-Goog-SignedHeaders"] == "host"
    assert query["X-Goog-Credential"].startswith(f"{SIGNER}/")
    assert query["X-Goog-Credential"].endswith("/auto/storage/goog4_request")
    assert before + 899 <= signed.expires_at.timestamp() <= time.time() + 900


def test_a_client_holding_a_key_signs_with_it() -> None:
    store = GcsStore(_client(CREDENTIALS), {ARTIFACT_BUCKET: "acme-appgen-artifacts"})
    signed = store.signed_url(ARTIFACT_BUCKET, OBJECT, ttl_seconds=60)
    query = _assert_signed_by_key(signed.url)
    assert query["X-Goog-Expires"] == "60"


def test_a_link_longer_than_15_minutes_is_never_signed() -> None:
    store = GcsStore(_client(CREDENTIALS), {ARTIFACT_BUCKET: "acme-appgen-artifacts"})
    with pytest.raises(ValueError, match="at most 900 s, not 86400 s"):
        store.signed_url(ARTIFACT_BUCKET, OBJECT, ttl_seconds=86400)


def test_a_tampered_url_does_not_verify() -> None:
    store = GcsStore(_client(), signing_credentials=CREDENTIALS)
    url = store.signed_url(ARTIFACT_BUCKET, OBJECT).url.replace("job-1", "job-2")
    with pytest.raises(InvalidSignature):
        _assert_signed_by_key(url)


def test_credentials_that_cannot_sign_are_a_config_error() -> None:
    store = GcsStore(_client())  # anonymous: no key and no service account to ask IAM for
    with pytest.raises(errors.ConfigError, match="signed GCS URLs need service-account credentials"):
        store.signed_url(ARTIFACT_BUCKET, OBJECT)


def test_paths_that_climb_out_of_the_bucket_are_refused() -> None:
    store = GcsStore(_client(), signing_credentials=CREDENTIALS)
    with pytest.raises(errors.InvalidRequest):
        store.signed_url(ARTIFACT_BUCKET, "../elsewhere/app.zip")


# -- upload verification against what GCS reports ---------------------------------------------------


class FakeBlob:
    """Records the calls GcsStore makes and reports the MD5 and size GCS would have measured."""

    def __init__(self, world: FakeGcs, bucket: str, name: str):
        self.world, self.bucket, self.name = world, bucket, name
        self.metadata: dict[str, str] | None = None
        self.md5_hash: str | None = None
        self.size: int | None = None

    def upload_from_filename(self, filename: str, **kwargs: object) -> None:
        data = Path(filename).read_bytes()
        if self.world.corrupt:
            data = data[:-1]
            self.world.corrupt -= 1
        self.world.objects[(self.bucket, self.name)] = data
        self.world.uploads.append((self.bucket, self.name, dict(self.metadata or {}), kwargs["checksum"]))

    def reload(self, **kwargs: object) -> None:
        data = self.world.objects[(self.bucket, self.name)]
        self.md5_hash = base64.b64encode(hashlib.md5(data).digest()).decode()
        self.size = len(data)

    def delete(self, **kwargs: object) -> None:
        self.world.deletes.append((self.bucket, self.name))
        self.world.objects.pop((self.bucket, self.name), None)


class FakeGcs:
    def __init__(self, corrupt: int = 0):
        self.corrupt = corrupt
        self.objects: dict[tuple[str, str], bytes] = {}
        self.uploads: list[tuple[str, str, dict[str, str], object]] = []
        self.deletes: list[tuple[str, str]] = []

    def bucket(self, name: str) -> FakeGcs._Bucket:
        return FakeGcs._Bucket(self, name)

    class _Bucket:
        def __init__(self, world: FakeGcs, name: str):
            self.world, self.name = world, name

        def blob(self, path: str) -> FakeBlob:
            return FakeBlob(self.world, self.name, path)


def test_a_write_gcs_measured_differently_is_retried_until_it_matches(tmp_path: Path) -> None:
    source = tmp_path / "app.zip"
    source.write_bytes(b"zip bytes " * 100)
    world, pauses = FakeGcs(corrupt=2), []
    store = GcsStore(world, {ARTIFACT_BUCKET: "acme-artifacts"}, sleep=pauses.append)

    stored = store.upload(ARTIFACT_BUCKET, OBJECT, source)

    assert stored == sha256_file(source)
    assert world.objects[("acme-artifacts", OBJECT)] == source.read_bytes()
    assert world.uploads == [("acme-artifacts", OBJECT, {"sha256": stored.checksum}, "md5")] * 3
    assert pauses == [0.5, 2.0]
    assert world.deletes == []


def test_a_write_that_never_matches_is_removed_and_fails_transiently(tmp_path: Path) -> None:
    source = tmp_path / "app.zip"
    source.write_bytes(b"zip bytes " * 100)
    world = FakeGcs(corrupt=3)
    store = GcsStore(world, {ARTIFACT_BUCKET: "acme-artifacts"}, sleep=lambda _: None)

    with pytest.raises(errors.StepFailed) as raised:
        store.upload(ARTIFACT_BUCKET, OBJECT, source)

    assert raised.value.code == "storage_failed"
    assert raised.value.transient is True
    assert "the store holds 999 bytes" in raised.value.message
    assert world.deletes == [("acme-artifacts", OBJECT)]
    assert world.objects == {}
