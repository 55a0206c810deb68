"""Google Cloud Storage adapter of the object-store port: the scratch store on Cloud Run (page bundles and
workspace snapshots travel between tasks through it), or the artifact store when artifacts live on GCS.

Logical bucket names (`generated-apps`, `appgen-scratch`) map to real, globally unique GCS bucket names.
Uploads are verified against the server's own MD5 and size (GCS computes them on write), and the SHA-256
the port reports is kept as object metadata. Signed URLs are V4; on Cloud Run, whose credentials hold no
private key, they are signed through the IAM `signBlob` API as the service account itself, with a token
scoped for IAM (`cloud-platform`): the storage client's own token carries only devstorage scopes, which
IAM refuses (ACCESS_TOKEN_SCOPE_INSUFFICIENT). The account needs `iam.serviceAccountTokenCreator` on
itself (`appgen deploy` grants it).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import mimetypes
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google.auth
import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as gauth_exc
from google.auth import iam
from google.auth.credentials import Credentials, Signing
from google.auth.transport.requests import Request as AuthRequest
from google.cloud.storage import exceptions as gcs_exc
from google.cloud.storage.retry import DEFAULT_RETRY

from appgen import errors
from appgen.policy import ErrorCode
from appgen.redact import redact
from appgen.storage import (
    ObjectStore,
    SignedUrl,
    StoredObject,
    check_object_path,
    verified_upload,
)

TIMEOUT_SECONDS = 600.0  # whole-file transfers; API calls return long before
# The client library retries transient answers for up to 120 s per call by default; a step would rather
# fail over to the plan's backoff sooner, so each call retries for this long at most.
RETRY_SECONDS = 20.0
# The scope a token needs for IAM signBlob (the storage client's devstorage scopes are not enough).
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_CANNOT_SIGN = "signed GCS URLs need service-account credentials (Cloud Run's, or a key file)"


def default_client(project: str | None) -> Any:
    """A storage client on Application Default Credentials (anonymous under STORAGE_EMULATOR_HOST)."""
    from google.cloud import storage

    try:
        return storage.Client(project=project)
    except gauth_exc.DefaultCredentialsError as exc:
        raise errors.ConfigError(
            "the GCS store needs Application Default Credentials (the Cloud Run service account, or "
            "GOOGLE_APPLICATION_CREDENTIALS locally)"
        ) from exc


class GcsStore(ObjectStore):
    def __init__(
        self,
        client: Any,
        bucket_names: Mapping[str, str] | None = None,
        *,
        signing_credentials: Signing | None = None,
        auth_request: Any = None,
        retry_seconds: float = RETRY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """`client` is a `google.cloud.storage.Client`. Links are signed by `signing_credentials` when
        given, else by the client's credentials when they hold a key, else through IAM (`IamSigning`, on
        Application Default Credentials scoped for IAM, fetched over `auth_request`)."""
        self._client = client
        self._names = dict(bucket_names or {})
        self._signing = signing_credentials
        self._auth_request = auth_request
        self._sleep = sleep
        self._retry = DEFAULT_RETRY.with_timeout(retry_seconds)

    def bucket_name(self, bucket: str) -> str:
        return self._names.get(bucket, bucket)

    def _blob(self, bucket: str, path: str) -> Any:
        return self._client.bucket(self.bucket_name(bucket)).blob(check_object_path(path))

    # -- the port --------------------------------------------------------------------------------

    def upload(self, bucket: str, path: str, source: Path) -> StoredObject:
        sha256, md5, size = _digests(source)
        expected = StoredObject(size, sha256)

        def attempt() -> StoredObject:
            blob = self._blob(bucket, path)
            blob.metadata = {"sha256": sha256}
            with _mapped(f"upload {bucket}/{path}"):
                blob.upload_from_filename(
                    str(source),
                    content_type=mimetypes.guess_type(path)[0] or "application/octet-stream",
                    checksum="md5",  # GCS refuses the write if the bytes it got hash differently
                    timeout=TIMEOUT_SECONDS,
                    retry=self._retry,
                )
                blob.reload(timeout=60, retry=self._retry)
            # What GCS itself measured of the stored bytes; equal MD5 and size mean the same bytes as ours.
            same = blob.md5_hash == md5 and blob.size == size
            return expected if same else StoredObject(int(blob.size or 0), "not-" + sha256)

        return verified_upload(
            attempt, expected, discard=lambda: self.delete(bucket, [path]), sleep=self._sleep
        )

    def download(self, bucket: str, path: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        try:
            with _mapped(f"download {bucket}/{path}", not_found=f"no object at {bucket}/{path}"):
                self._blob(bucket, path).download_to_filename(
                    str(partial), timeout=TIMEOUT_SECONDS, retry=self._retry
                )
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(dest)

    def delete(self, bucket: str, paths: list[str]) -> None:
        for path in paths:
            blob = self._blob(bucket, path)
            # Already gone is fine: deletion is retried safely.
            with _mapped(f"delete {bucket}/{path}"), contextlib.suppress(gexc.NotFound):
                blob.delete(timeout=60, retry=self._retry)

    def _signed_url(self, bucket: str, path: str, ttl_seconds: int) -> SignedUrl:
        expires_at = datetime.fromtimestamp(int(time.time()) + ttl_seconds, UTC)
        blob = self._blob(bucket, path)
        options: dict[str, Any] = {
            "version": "v4",
            "method": "GET",
            "expiration": timedelta(seconds=ttl_seconds),
        }
        with _mapped(f"sign a link to {bucket}/{path}"):
            options["credentials"] = self._signer()
            url = blob.generate_signed_url(**options)
        return SignedUrl(url, expires_at)

    def _signer(self) -> Signing:
        if self._signing is None:
            own = self._client._credentials
            if isinstance(own, Signing):  # a service-account key signs locally
                self._signing = own
            else:  # Cloud Run's metadata-server credentials: sign through IAM
                try:
                    credentials, _ = google.auth.default(
                        scopes=[CLOUD_PLATFORM_SCOPE], request=self._auth_request
                    )
                except gauth_exc.DefaultCredentialsError as exc:
                    raise errors.ConfigError(_CANNOT_SIGN) from exc
                self._signing = IamSigning(credentials, self._auth_request or AuthRequest())
        return self._signing


class IamSigning(Signing):
    """Signs as the service account of `credentials` through the IAM `signBlob` API. `credentials` must
    carry the `cloud-platform` (or `iam`) scope; their account needs `iam.serviceAccountTokenCreator` on
    itself."""

    def __init__(self, credentials: Credentials, request: Any):
        self._credentials = credentials
        self._request = request

    @property
    def signer_email(self) -> str:
        email = getattr(self._credentials, "service_account_email", None)
        if email in (None, "default"):  # metadata-server credentials learn their email on refresh
            self._credentials.refresh(self._request)
            email = getattr(self._credentials, "service_account_email", None)
        if not email or email == "default":
            raise errors.ConfigError(_CANNOT_SIGN)
        return str(email)

    @property
    def signer(self) -> iam.Signer:
        return iam.Signer(self._request, self._credentials, self.signer_email)

    def sign_bytes(self, message: bytes) -> bytes:
        signer = self.signer
        try:
            return bytes(signer.sign(message))
        except gauth_exc.TransportError as exc:
            if "PERMISSION_DENIED" not in str(exc) and "UNAUTHENTICATED" not in str(exc):
                raise  # unreachable or overloaded: the caller retries
            raise errors.ConfigError(
                f"IAM refused to sign as {self.signer_email}: it needs roles/iam.serviceAccountTokenCreator "
                f"on itself and a token with the cloud-platform scope ({redact(str(exc))[:300]})"
            ) from exc


def _digests(path: Path) -> tuple[str, str, int]:
    """SHA-256 (hex), MD5 (base64, as GCS reports it) and size of a file, in one pass."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return sha256.hexdigest(), base64.b64encode(md5.digest()).decode(), size


@contextmanager
def _mapped(what: str, *, not_found: str | None = None) -> Iterator[None]:
    """One place maps GCS client failures to domain errors."""
    try:
        yield
    except gexc.NotFound as exc:
        raise errors.NotFound(not_found or f"not found: {what}") from exc
    except (gexc.Unauthorized, gexc.Forbidden, gauth_exc.DefaultCredentialsError) as exc:
        raise errors.ConfigError(
            f"Google Cloud Storage refused the service's credentials during: {what} "
            f"({redact(str(exc))[:200]})"
        ) from exc
    except (gcs_exc.DataCorruption, gcs_exc.InvalidResponse) as exc:  # a corrupted transfer: try again
        raise errors.DependencyUnavailable(
            f"Google Cloud Storage reported a corrupted transfer: {what}"
        ) from exc
    except (
        gexc.TooManyRequests,
        gexc.ServerError,
        gexc.RetryError,
        gauth_exc.TransportError,
        gauth_exc.RefreshError,
        requests.RequestException,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise errors.DependencyUnavailable(
            f"Google Cloud Storage is unavailable ({type(exc).__name__}) during: {what}"
        ) from exc
    except gexc.GoogleAPICallError as exc:
        if "checksum" in str(exc).lower():  # GCS refused a corrupted write: try again
            raise errors.DependencyUnavailable(f"Google Cloud Storage rejected a corrupted {what}") from exc
        raise errors.StepFailed(
            f"Google Cloud Storage refused {what}: {redact(exc.message or '')[:300]}",
            code=ErrorCode.STORAGE_REFUSED,
        ) from exc
