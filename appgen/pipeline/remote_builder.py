"""`RemoteBuilder`: the Builder port over HTTP, so that in the cloud the worker (which holds the Gemini key
and the database and storage credentials) never runs a workspace's code. It packs the workspace (source
only: `snapshots.pack` leaves out node_modules and .next) with the pages to screenshot, sends it to the builder
service with an ID token of the worker's service account and the job's remaining time, and turns the
answer (screenshots included) into a `BuildResult` after checking every field (`build_protocol.py`).

- **Cancel**: the answer streams a heartbeat every 2 s while the build runs; between heartbeats the
  request's `should_stop` is polled, and a cancel closes the connection (`cancelled`). The builder sees
  the closed connection at its next heartbeat and kills the box; if the close never reaches it (a proxy
  in between), the budget sent with the request ends its work.
- **Failures**: a builder that cannot be reached, is busy or answers 5xx, a cut connection, or no answer
  in time are `dependency_unavailable`, so the plan's 20/60/180 s backoff retries the step; a builder
  that refuses the worker's token or is not a builder is `internal` (configuration); a workspace too
  large to send is `build_failed`; an answer that is not exactly the format is `internal`.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from google.auth import exceptions as gauth_exc

from appgen.errors import StepFailed
from appgen.pipeline import build_protocol as protocol
from appgen.pipeline import render_request
from appgen.pipeline.builder import BuildRequest, BuildResult
from appgen.policy import ErrorCode

CONNECT_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 120.0
ANSWER_MARGIN_S = 60.0  # past the budget: unpacking, reading the pages, the way back
MAX_ERROR_BYTES = 64 * 1024
# Statuses that mean "not now": the service is starting, at its instance limit, or failing. They map to
# `dependency_unavailable`, whose row in the error codes (`appgen.policy`) decides that it is retried.
_UNAVAILABLE = {409, 429, 500, 502, 503, 504}


def google_request() -> Any:
    """The transport google-auth fetches ID tokens with (the metadata server on Cloud Run)."""
    from google.auth.transport.requests import Request

    return Request()


class RemoteBuilder:
    def __init__(self, url: str, audience: str, *, client: httpx.Client | None = None):
        self.url = url.rstrip("/")
        self.audience = audience
        self.client = client or httpx.Client(follow_redirects=False)
        self.sandbox = f"builder service {urlsplit(self.url).netloc}: own boxes, no secrets"

    def build(self, request: BuildRequest) -> BuildResult:
        with tempfile.TemporaryDirectory(prefix="appgen-snapshot-") as tmp:
            archive = render_request.pack_snapshot(
                request.workspace, Path(tmp) / "workspace.tar.gz", request.render
            )
            size = archive.stat().st_size
            if size > protocol.MAX_SNAPSHOT_BYTES:
                raise StepFailed(
                    f"the app's files (without node_modules and .next) are {size / 2**20:.1f} MiB compressed, "
                    f"more than the {protocol.MAX_SNAPSHOT_BYTES // 2**20} MiB the builder accepts",
                    code=ErrorCode.BUILD_FAILED,
                )
            body = archive.read_bytes()
        budget_s = request.budget(protocol.MAX_BUDGET_S)
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Content-Type": protocol.CONTENT_TYPE,
            protocol.BUDGET_HEADER: f"{budget_s:.0f}",
            protocol.CLASSES_HEADER: "1",
        }
        timeout = httpx.Timeout(
            CONNECT_TIMEOUT_S, read=budget_s + ANSWER_MARGIN_S, write=SEND_TIMEOUT_S, pool=CONNECT_TIMEOUT_S
        )
        try:
            with self.client.stream(
                "POST", self.url + protocol.PATH, content=body, headers=headers, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    raise self._refusal(response.status_code, _read(response, MAX_ERROR_BYTES, request))
                answer = _read(response, protocol.MAX_ANSWER_BYTES, request, budget_s + ANSWER_MARGIN_S)
        except httpx.TransportError as exc:
            raise StepFailed(
                f"the builder service at {self.url} could not be reached or cut the answer short "
                f"({type(exc).__name__})",
                code=ErrorCode.DEPENDENCY_UNAVAILABLE,
            ) from exc
        return protocol.decode_answer(answer, self.sandbox, request.render)

    def _token(self) -> str:
        """An ID token of this process's service account for the builder (Cloud Run IAM checks it, then
        the builder itself)."""
        from google.oauth2 import id_token

        try:
            return str(id_token.fetch_id_token(google_request(), self.audience))
        except (gauth_exc.TransportError, gauth_exc.RefreshError) as exc:
            raise StepFailed(
                f"no ID token for the builder service: {type(exc).__name__}",
                code=ErrorCode.DEPENDENCY_UNAVAILABLE,
            ) from exc
        except gauth_exc.GoogleAuthError as exc:
            raise StepFailed(
                "no ID token for the builder service: this process has no Google service account "
                f"(APPGEN_BUILDER=remote runs on Cloud Run or with one): {type(exc).__name__}",
                code=ErrorCode.INTERNAL,
            ) from exc

    def _refusal(self, status: int, body: bytes) -> StepFailed:
        """The step failure for a builder that answered `status` instead of building."""
        try:
            error = json.loads(body).get("error")
        except (ValueError, AttributeError, RecursionError):
            error = None
        if status == 400 and isinstance(error, dict) and error.get("code") == ErrorCode.UNSAFE_ARCHIVE:
            return StepFailed(protocol.remote_failure(error).message, code=ErrorCode.UNSAFE_ARCHIVE)
        if status == 413:
            return StepFailed(protocol.remote_failure(error).message, code=ErrorCode.BUILD_FAILED)
        if status in _UNAVAILABLE:
            reason = protocol.remote_failure(error).message if error else f"HTTP {status}"
            return StepFailed(
                f"the builder service is unavailable ({status}): {reason}",
                code=ErrorCode.DEPENDENCY_UNAVAILABLE,
            )
        hint = {
            401: "it refused the worker's token: APPGEN_BUILDER_AUDIENCE must be an audience the builder accepts",
            403: "it refused the worker: give the worker's service account roles/run.invoker on it and set "
            "the builder's APPGEN_BUILDER_CALLER to it",
            404: f"{self.url}{protocol.PATH} is not a builder service (APPGEN_BUILDER_URL)",
            405: f"{self.url}{protocol.PATH} is not a builder service (APPGEN_BUILDER_URL)",
        }.get(status, f"it answered HTTP {status}")
        return StepFailed(f"the builder service did not build: {hint}", code=ErrorCode.INTERNAL)


def _read(
    response: httpx.Response, limit: int, request: BuildRequest, within_s: float | None = None
) -> bytes:
    """The answer's bytes, at most `limit`; polls the cancel between chunks (heartbeats included)."""
    deadline = None if within_s is None else time.monotonic() + within_s
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        if request.should_stop():
            raise StepFailed("the job was cancelled", code=ErrorCode.CANCELLED)
        if deadline is not None and time.monotonic() > deadline:
            raise StepFailed(
                "the builder service did not answer in time", code=ErrorCode.DEPENDENCY_UNAVAILABLE
            )
        size += len(chunk)
        if size > limit:
            raise StepFailed(
                f"the builder's answer is not valid: it is larger than {limit} bytes", code=ErrorCode.INTERNAL
            )
        chunks.append(chunk)
    return b"".join(chunks)
