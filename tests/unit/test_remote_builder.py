"""`RemoteBuilder` against builders played by `httpx.MockTransport`: what it sends (the workspace's source
with an ID token from the metadata server and the job's remaining time), how each way a builder can fail
becomes the step's error code (transient ones retried by the plan's backoff), the pages to render it sends
and the screenshots it receives, and that a cancel or an
answer that never ends is cut off instead of waited for. (A real builder: tests/e2e/test_remote_builder.py.)"""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from google.auth import _exponential_backoff

from appgen.errors import StepFailed
from appgen.pipeline import build_protocol as protocol
from appgen.pipeline import remote_builder, render_request
from appgen.pipeline.builder import BUILD, BuildRequest
from appgen.pipeline.remote_builder import RemoteBuilder
from appgen.policy import ErrorCode
from appgen.visual import render
from tests.fixtures.google import FakeMetadata, FakeResponse

URL = "https://appgen-builder-123.europe-west1.run.app"
WORKER_SA = "agent-worker-sa@demo-project.iam.gserviceaccount.com"
OK = {"result": {"install": None, "build": {"argv": list(BUILD), "exitCode": 0, "output": "built",
                                            "durationS": 2.0}, "lint": None, "pages": {}}}  # fmt: skip


@pytest.fixture
def metadata(monkeypatch: pytest.MonkeyPatch) -> FakeMetadata:
    served = FakeMetadata(WORKER_SA)
    monkeypatch.setattr(remote_builder, "google_request", lambda: served)
    return served


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "app").mkdir(parents=True)
    (ws / "app" / "page.tsx").write_text("export default function Page() { return null; }\n")
    (ws / "package-lock.json").write_text("{}\n")
    for heavy in ("node_modules/next", ".next/cache"):
        (ws / heavy).mkdir(parents=True)
        (ws / heavy / "big.js").write_text("x" * 1000)
    return ws


def _builder(handler: Callable[[httpx.Request], httpx.Response]) -> RemoteBuilder:
    return RemoteBuilder(URL, URL, client=httpx.Client(transport=httpx.MockTransport(handler)))


def _request(
    ws: Path, should_stop: Callable[[], bool] = lambda: False, remaining: float = 1000.0
) -> BuildRequest:
    return BuildRequest(ws, lambda limit: min(limit, remaining), should_stop)


def _failure(builder: RemoteBuilder, ws: Path, **request: Any) -> StepFailed:
    with pytest.raises(StepFailed) as raised:
        builder.build(_request(ws, **request))
    return raised.value


@pytest.mark.usefixtures("metadata")
def test_it_sends_the_workspace_source_with_a_token_and_the_remaining_time(
    workspace: Path, metadata: FakeMetadata
) -> None:
    seen: list[httpx.Request] = []

    def builder(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=iter([b"\n", b"\n", json.dumps(OK).encode()]))

    result = _builder(builder).build(_request(workspace, remaining=321.4))

    assert result.build is not None and (result.build.ok, result.build.output) == (True, "built")
    assert result.sandbox == "builder service appgen-builder-123.europe-west1.run.app: own boxes, no secrets"
    (sent,) = seen
    assert (sent.method, str(sent.url)) == ("POST", f"{URL}/build")
    assert sent.headers["Content-Type"] == "application/gzip"
    assert sent.headers[protocol.BUDGET_HEADER] == "321"
    token = sent.headers["Authorization"].removeprefix("Bearer ")
    assert metadata.audiences == [URL] and token.count(".") == 2
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(sent.content))) as tar:
        assert sorted(tar.getnames()) == ["app/page.tsx", "package-lock.json"]


@pytest.mark.usefixtures("metadata")
def test_it_sends_the_pages_to_render_instead_of_an_agents_file_and_receives_their_shots(
    workspace: Path,
) -> None:
    (workspace / render_request.RENDER_MEMBER).write_text('{"pages": [{"name": "planted"}]}')
    home = render.RenderPage("home", "<h1>Home</h1>", "index.html")
    png = render.PNG_SIGNATURE + b"home"
    shot = render.shot_name("home", "desktop", "preview")
    answer = {"result": {**OK["result"], "shots": {shot: base64.b64encode(png).decode()}, "shotErrors": {}}}
    seen: list[bytes] = []

    def builder(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, content=iter([b"\n", json.dumps(answer).encode()]))

    result = _builder(builder).build(BuildRequest(workspace, lambda limit: limit, render=(home,)))

    assert result.shots == render.Shots({shot: png})
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(seen[0]))) as tar:
        member = tar.extractfile(render_request.RENDER_MEMBER)
        assert member is not None
        sent = json.loads(member.read())
        assert [m.name for m in tar.getmembers()].count(render_request.RENDER_MEMBER) == 1
    assert sent == {"pages": [{"name": "home", "preview": "<h1>Home</h1>", "built": "index.html"}]}


@pytest.mark.parametrize(
    ("status", "body", "code", "words"),
    [
        (401, {"error": {"code": "missing_token"}}, ErrorCode.INTERNAL, "APPGEN_BUILDER_AUDIENCE"),
        (403, {"error": {"code": "forbidden"}}, ErrorCode.INTERNAL, "roles/run.invoker"),
        (404, None, ErrorCode.INTERNAL, "is not a builder service (APPGEN_BUILDER_URL)"),
        (400, {"error": {"code": "unsafe_archive", "message": "refusing '../x'"}}, ErrorCode.UNSAFE_ARCHIVE,
         "refusing '../x'"),
        (400, {"error": {"code": "invalid_request"}}, ErrorCode.INTERNAL, "HTTP 400"),
        (413, {"error": {"code": "payload_too_large", "message": "more than 50000 files"}},
         ErrorCode.BUILD_FAILED, "more than 50000 files"),
        (409, {"error": {"code": "conflict", "message": "different starters"}},
         ErrorCode.DEPENDENCY_UNAVAILABLE, "different starters"),
        (429, {"error": {"code": "rate_limited"}}, ErrorCode.DEPENDENCY_UNAVAILABLE, "unavailable (429)"),
        (500, {"error": {"code": "internal"}}, ErrorCode.DEPENDENCY_UNAVAILABLE, "unavailable (500)"),
        (503, "Service Unavailable", ErrorCode.DEPENDENCY_UNAVAILABLE, "unavailable (503): HTTP 503"),
        (504, None, ErrorCode.DEPENDENCY_UNAVAILABLE, "unavailable (504)"),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("metadata")
def test_each_refusal_of_the_builder_becomes_the_step_error_it_calls_for(
    workspace: Path, status: int, body: object, code: ErrorCode, words: str
) -> None:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode() if body else b""
    failure = _failure(_builder(lambda _: httpx.Response(status, content=iter([content]))), workspace)
    assert failure.error_code == code
    assert words in failure.message


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("cut short")],
)
@pytest.mark.usefixtures("metadata")
def test_a_builder_that_cannot_be_reached_or_cuts_the_answer_short_is_retried_later(
    workspace: Path, error: httpx.TransportError
) -> None:
    def builder(request: httpx.Request) -> httpx.Response:
        raise error

    failure = _failure(_builder(builder), workspace)
    assert failure.error_code == ErrorCode.DEPENDENCY_UNAVAILABLE
    assert f"could not be reached or cut the answer short ({type(error).__name__})" in failure.message


class Heartbeats:
    """A streamed answer that never ends, recording whether the worker closed it."""

    def __init__(self, chunk: bytes = protocol.HEARTBEAT):
        self.chunk = chunk
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                self.sent += 1
                yield self.chunk
        finally:
            self.closed = True


@pytest.mark.usefixtures("metadata")
def test_a_cancel_closes_the_answer_while_the_builder_still_builds(workspace: Path) -> None:
    answer = Heartbeats()
    polls = iter([False, False, False, True])
    failure = _failure(
        _builder(lambda _: httpx.Response(200, content=answer)), workspace, should_stop=lambda: next(polls)
    )
    assert (failure.error_code, failure.message) == (ErrorCode.CANCELLED, "the job was cancelled")
    assert answer.sent == 4 and answer.closed


@pytest.mark.usefixtures("metadata")
def test_an_answer_larger_than_the_limit_is_cut_off_unread(workspace: Path) -> None:
    chunk = 8 * 1024 * 1024
    answer = Heartbeats(b" " * chunk)
    failure = _failure(_builder(lambda _: httpx.Response(200, content=answer)), workspace)
    assert failure.error_code == ErrorCode.INTERNAL
    assert failure.message == (
        f"the builder's answer is not valid: it is larger than {protocol.MAX_ANSWER_BYTES} bytes"
    )
    assert answer.sent == protocol.MAX_ANSWER_BYTES // chunk + 1 and answer.closed


@pytest.mark.usefixtures("metadata")
def test_a_workspace_too_large_to_send_fails_the_build_without_calling_the_builder(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocol, "MAX_SNAPSHOT_BYTES", 100)
    calls: list[httpx.Request] = []
    failure = _failure(_builder(lambda request: calls.append(request) or httpx.Response(500)), workspace)
    assert failure.error_code == ErrorCode.BUILD_FAILED
    assert "more than the 0 MiB the builder accepts" in failure.message
    assert calls == []


def test_without_a_service_account_the_step_fails_with_the_reason(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote_builder, "google_request", lambda: lambda *a, **k: FakeResponse(404, b""))
    failure = _failure(_builder(lambda _: httpx.Response(500)), workspace)
    assert failure.error_code == ErrorCode.INTERNAL
    assert failure.message.startswith(
        "no ID token for the builder service: this process has no Google service"
    )


def test_an_unreachable_metadata_server_is_retried_later(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Flaky(FakeMetadata):
        def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> FakeResponse:
            if "identity" in url:
                return FakeResponse(503, b"unavailable", {"metadata-flavor": "Google"})
            return super().__call__(url, method, **kwargs)

    monkeypatch.setattr(remote_builder, "google_request", lambda: Flaky(WORKER_SA))
    monkeypatch.setattr(_exponential_backoff, "time", SimpleNamespace(sleep=lambda _: None))  # its retries
    failure = _failure(_builder(lambda _: httpx.Response(500)), workspace)
    assert failure.error_code == ErrorCode.DEPENDENCY_UNAVAILABLE
    assert failure.message.startswith("no ID token for the builder service: ")
