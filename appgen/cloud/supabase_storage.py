"""Supabase Storage adapter of the object-store port, over the Storage REST API with the service role key.

Plain httpx rather than `storage3`: the port needs five calls, uploads must stream from disk (artifacts may
reach 350 MB), and every answer must map to one domain error without the key ever reaching a message.

Calls (all under `{SUPABASE_URL}/storage/v1`, headers `apikey` and `Authorization: Bearer` = the key):
  upload      POST   /object/{bucket}/{path}               body = the file, `x-upsert: true`
  read back   GET    /object/authenticated/{bucket}/{path}  (verifies size and SHA-256 of what is stored)
  download    GET    /object/authenticated/{bucket}/{path}
  remove      DELETE /object/{bucket}                       {"prefixes": [...]} (up to 1,000 per call)
  sign        POST   /object/sign/{bucket}/{path}          {"expiresIn": seconds} -> {"signedURL": ...}
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from appgen import errors
from appgen.policy import ErrorCode
from appgen.redact import redact, register_secret
from appgen.storage import (
    ObjectStore,
    SignedUrl,
    StoredObject,
    check_object_path,
    sha256_file,
    verified_upload,
)

REMOVE_BATCH = 1000  # Storage's limit of prefixes per remove call
_CHUNK = 1 << 20


class SupabaseStorage(ObjectStore):
    def __init__(
        self,
        supabase_url: str,
        service_key: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        transfer_timeout: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not supabase_url or not service_key:
            raise errors.ConfigError("Supabase Storage needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY")
        register_secret(service_key)
        self.supabase_url = supabase_url.rstrip("/")
        self._api = f"{self.supabase_url}/storage/v1"
        self._client = client or httpx.Client(timeout=timeout)
        self._headers = {"apikey": service_key, "Authorization": f"Bearer {service_key}"}
        # Uploads and downloads move whole files: their reads may take longer than an API call.
        self._transfer_timeout = httpx.Timeout(timeout, read=transfer_timeout, write=transfer_timeout)
        self._sleep = sleep

    # -- the port --------------------------------------------------------------------------------

    def upload(self, bucket: str, path: str, source: Path) -> StoredObject:
        expected = sha256_file(source)
        return verified_upload(
            lambda: self._put(bucket, path, source),
            expected,
            discard=lambda: self.delete(bucket, [path]),
            sleep=self._sleep,
        )

    def download(self, bucket: str, path: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        try:
            with self._stream(bucket, path, "download") as response, partial.open("wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(dest)

    def delete(self, bucket: str, paths: list[str]) -> None:
        for path in paths:
            check_object_path(path)
        for start in range(0, len(paths), REMOVE_BATCH):
            batch = paths[start : start + REMOVE_BATCH]
            # Paths that do not exist are simply absent from the answer: deletion is retried safely.
            self._call(
                "DELETE", f"/object/{_q(bucket)}", f"remove objects from {bucket}", json={"prefixes": batch}
            )

    def _signed_url(self, bucket: str, path: str, ttl_seconds: int) -> SignedUrl:
        expires_at = datetime.fromtimestamp(int(time.time()) + ttl_seconds, UTC)
        response = self._call(
            "POST",
            f"/object/sign/{_q(bucket)}/{_q(check_object_path(path))}",
            f"sign a link to {bucket}/{path}",
            json={"expiresIn": ttl_seconds},
            not_found=f"no object at {bucket}/{path}",
        )
        try:
            signed = str(response.json()["signedURL"])
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.DependencyUnavailable(
                "Supabase Storage answered a sign request without a URL"
            ) from exc
        return SignedUrl(self._absolute(signed), expires_at)

    # -- helpers ---------------------------------------------------------------------------------

    def _put(self, bucket: str, path: str, source: Path) -> StoredObject:
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        with source.open("rb") as body:  # streamed; httpx sends Content-Length from the file's size
            self._call(
                "POST",
                f"/object/{_q(bucket)}/{_q(check_object_path(path))}",
                f"upload {bucket}/{path}",
                content=body,
                headers={"Content-Type": content_type, "x-upsert": "true", "cache-control": "no-cache"},
                timeout=self._transfer_timeout,
            )
        return self._stored(bucket, path)

    def _stored(self, bucket: str, path: str) -> StoredObject:
        """Size and SHA-256 of the bytes the store now holds, read back (Storage keeps no SHA-256)."""
        digest, size = hashlib.sha256(), 0
        with self._stream(bucket, path, "verify") as response:
            for chunk in response.iter_bytes(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return StoredObject(size, digest.hexdigest())

    @contextmanager
    def _stream(self, bucket: str, path: str, verb: str) -> Iterator[httpx.Response]:
        what = f"{verb} {bucket}/{path}"
        url = f"{self._api}/object/authenticated/{_q(bucket)}/{_q(check_object_path(path))}"
        try:
            with self._client.stream(
                "GET", url, headers=self._headers, timeout=self._transfer_timeout
            ) as response:
                if response.status_code >= 300:
                    response.read()
                    _raise_for(response, what, f"no object at {bucket}/{path}")
                yield response
        except httpx.HTTPError as exc:
            raise _unreachable(exc, what) from exc

    def _call(
        self,
        method: str,
        api_path: str,
        what: str,
        *,
        headers: dict[str, str] | None = None,
        not_found: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            response = self._client.request(
                method, self._api + api_path, headers={**self._headers, **(headers or {})}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise _unreachable(exc, what) from exc
        if response.status_code >= 300:
            _raise_for(response, what, not_found or f"not found: {what}")
        return response

    def _absolute(self, signed: str) -> str:
        if signed.startswith(("https://", "http://")):
            return signed
        if signed.startswith("/storage/v1/"):
            return self.supabase_url + signed
        return self._api + "/" + signed.lstrip("/")


def _q(segment: str) -> str:
    return quote(segment, safe="/")


def _unreachable(exc: httpx.HTTPError, what: str) -> errors.DependencyUnavailable:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else f"failed ({type(exc).__name__})"
    return errors.DependencyUnavailable(f"Supabase Storage {kind} during: {what}")


def _raise_for(response: httpx.Response, what: str, not_found: str) -> None:
    """One place maps Storage's answers to domain errors. Older Storage versions answer 400 with
    `statusCode: "404"` in the body for a missing object, so the body's code counts as well."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    body_status = str(body.get("statusCode") or "")
    detail = redact(str(body.get("message") or body.get("error") or response.text or ""))[:300]
    if status == 404 or body_status == "404":
        raise errors.NotFound(not_found)
    if status in (401, 403) or body_status in ("401", "403"):
        raise errors.ConfigError(
            f"Supabase Storage refused the service role key (HTTP {status}) during: {what}; "
            "check SUPABASE_SERVICE_ROLE_KEY"
        )
    if status == 413 or body_status == "413":
        raise errors.StepFailed(
            f"Supabase Storage refused {what}: larger than the bucket's upload size limit",
            code=ErrorCode.STORAGE_REFUSED,
        )
    if status == 429 or status >= 500:
        raise errors.DependencyUnavailable(f"Supabase Storage answered HTTP {status} during: {what}")
    raise errors.StepFailed(
        f"Supabase Storage refused {what}: HTTP {status}: {detail}".rstrip(": "),
        code=ErrorCode.STORAGE_REFUSED,
    )
