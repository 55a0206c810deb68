"""Object storage port: the artifact store (private ZIPs behind signed URLs) and the scratch store (page
bundles and workspace snapshots that travel between tasks).

`LocalObjectStore` keeps objects as files under the data directory and signs URLs with an HMAC that the
local stack checks when it serves them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlencode

from appgen import errors
from appgen.policy import POLICY, ErrorCode

_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")

ARTIFACT_BUCKET = "generated-apps"
SCRATCH_BUCKET = "appgen-scratch"


@dataclass(frozen=True)
class StoredObject:
    size_bytes: int
    checksum: str  # SHA-256, hex


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: datetime


def sha256_file(path: Path) -> StoredObject:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return StoredObject(size, digest.hexdigest())


def check_object_path(path: str) -> str:
    """Object paths are relative, normalized and never climb out of their bucket."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or any(part in ("", ".", "..") for part in path.split("/")):
        raise errors.InvalidRequest(f"not a valid object path: {path!r}")
    return path


# A failed or mismatched upload is tried again this many times, after these pauses, inside the step; past
# them the step fails transiently and the plan's 20/60/180 s backoff takes over.
UPLOAD_RETRY_PAUSES = (0.5, 2.0)


def verified_upload(
    attempt: Callable[[], StoredObject],
    expected: StoredObject,
    *,
    discard: Callable[[], None] | None = None,
    pauses: Sequence[float] = UPLOAD_RETRY_PAUSES,
    sleep: Callable[[float], None] = time.sleep,
) -> StoredObject:
    """Run one upload `attempt` (it returns what the store now holds) until the stored object matches
    `expected` in size and SHA-256. Transient failures and mismatches are retried after short `pauses`;
    any other error propagates at once. When every attempt failed, an object known to be wrong is
    `discard`ed and a transient `StepFailed(storage_failed)` is raised: the caller records nothing.
    """
    reason, mismatched = "", False
    for pause in (*pauses, None):
        try:
            stored = attempt()
            if stored == expected:
                return stored
            mismatched = True
            reason = (
                f"the store holds {stored.size_bytes} bytes with SHA-256 {stored.checksum[:12]}…, "
                f"not {expected.size_bytes} bytes with {expected.checksum[:12]}…"
            )
        except errors.DependencyUnavailable as exc:
            mismatched, reason = False, exc.message
        if pause is not None:
            sleep(pause)
    if mismatched and discard is not None:
        # Best effort: no artifact row points at the object, so nothing would hand it out anyway.
        with contextlib.suppress(errors.AppgenError):
            discard()
    raise errors.StepFailed(
        f"the upload could not be verified after {len(pauses) + 1} attempts: {reason}",
        code=ErrorCode.STORAGE_FAILED,
    )


class ObjectStore(ABC):
    @abstractmethod
    def upload(self, bucket: str, path: str, source: Path) -> StoredObject:
        """Store `source` at bucket/path and return what was stored, verified (size and SHA-256)."""

    @abstractmethod
    def download(self, bucket: str, path: str, dest: Path) -> None: ...

    @abstractmethod
    def delete(self, bucket: str, paths: list[str]) -> None:
        """Remove objects; paths that do not exist are not an error (deletion is retried)."""

    def signed_url(
        self, bucket: str, path: str, ttl_seconds: int = POLICY.signed_url_ttl_seconds
    ) -> SignedUrl:
        """A link to one object that works for `ttl_seconds`: never longer than the policy's maximum (a
        longer request is a bug of the caller, so no store is ever asked for one)."""
        if ttl_seconds > POLICY.signed_url_ttl_seconds:
            raise ValueError(
                f"signed links last at most {POLICY.signed_url_ttl_seconds} s, not {ttl_seconds} s"
            )
        return self._signed_url(bucket, path, ttl_seconds)

    @abstractmethod
    def _signed_url(self, bucket: str, path: str, ttl_seconds: int) -> SignedUrl: ...


class LocalObjectStore(ObjectStore):
    def __init__(self, root: Path, public_url: str, secret: str):
        if not secret:
            raise errors.ConfigError(
                "APPGEN_INTERNAL_SECRET is not set: the local object store signs its download links with it"
            )
        self.root = root
        self.public_url = public_url.rstrip("/")
        self._key = hashlib.sha256(b"appgen-local-objects:" + secret.encode()).digest()

    def _file(self, bucket: str, path: str) -> Path:
        return self.root / check_object_path(bucket) / check_object_path(path)

    def upload(self, bucket: str, path: str, source: Path) -> StoredObject:
        expected = sha256_file(source)
        target = self._file(bucket, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        stored = sha256_file(partial)
        if stored != expected:
            partial.unlink(missing_ok=True)
            raise errors.StepFailed(
                "the stored object does not match its source", code=ErrorCode.STORAGE_FAILED
            )
        partial.replace(target)
        return stored

    def download(self, bucket: str, path: str, dest: Path) -> None:
        source = self._file(bucket, path)
        if not source.is_file():
            raise errors.NotFound(f"no object at {bucket}/{path}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)

    def delete(self, bucket: str, paths: list[str]) -> None:
        for path in paths:
            self._file(bucket, path).unlink(missing_ok=True)

    def _signed_url(self, bucket: str, path: str, ttl_seconds: int) -> SignedUrl:
        expires = int(time.time()) + ttl_seconds
        query = urlencode({"expires": expires, "signature": self._sign(bucket, path, expires)})
        url = f"{self.public_url}/files/{quote(bucket)}/{quote(path)}?{query}"
        return SignedUrl(url, datetime.fromtimestamp(expires, UTC))

    def open_signed(self, bucket: str, path: str, expires: str | None, signature: str | None) -> Path:
        """The file behind a signed URL; Forbidden when the URL was tampered with, has expired, or claims
        a lifetime longer than the policy allows. The last is checked here, where links are served, so
        a link minted with a longer ttl (by a bug, or by anyone holding the key) never works."""
        # Exactly what _signed_url writes: int() would also read "+1", " 1", "1_0" and other scripts'
        # digits, and compare_digest raises TypeError on non-ASCII text.
        if not (expires and _EXPIRES.fullmatch(expires) and signature and _SIGNATURE.fullmatch(signature)):
            raise errors.Forbidden("this download link is not valid")
        expires_at = int(expires)
        if not hmac.compare_digest(signature, self._sign(bucket, path, expires_at)):
            raise errors.Forbidden("this download link is not valid")
        now = time.time()
        if expires_at < now:
            raise errors.Forbidden("this download link has expired; request a new one")
        if expires_at - now > POLICY.signed_url_ttl_seconds:
            raise errors.Forbidden(
                f"this download link claims to last longer than {POLICY.signed_url_ttl_seconds // 60} "
                "minutes; request a new one"
            )
        file = self._file(bucket, path)
        if not file.is_file():
            raise errors.NotFound("the object behind this link no longer exists")
        return file

    def _sign(self, bucket: str, path: str, expires: int) -> str:
        message = f"{bucket}\n{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
