"""The builder service as the Functions Framework serves it (target `build` of builder_container/main.py),
on everything it refuses before a build starts: callers other than the worker, other paths and methods,
snapshots that leave the workspace, are too large or not a tarball, a render request not in its format,
another starter's workspace, a second build at once; each answered with its status and JSON error, with
nothing left in its work dir. The pages to render reach its builder, not the build's workspace.
And it refuses to start holding a secret. (Real builds through it: tests/e2e/test_remote_builder.py.)"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask.testing
import functions_framework
import httpx
import pytest

from appgen import builder_service, errors
from appgen.auth import mint_internal_token
from appgen.cloud import oidc
from appgen.cloud.oidc import CachingRequest
from appgen.pipeline import build_protocol as protocol
from appgen.pipeline import remote_builder, render_request
from appgen.pipeline.builder import BUILD, BuildRequest, BuildResult
from appgen.pipeline.remote_builder import RemoteBuilder
from appgen.policy import ErrorCode
from appgen.sandbox import CommandResult
from appgen.settings import REPO_ROOT
from appgen.visual import render
from tests.fixtures.google import FakeGoogle, FakeMetadata, token
from tests.fixtures.starters import BUILDER_AUDIENCE as AUDIENCE
from tests.fixtures.starters import STARTER, WORKER_SA, builder_env

BUILDER_MAIN = str(REPO_ROOT / "builder_container" / "main.py")
LOCKFILE = (STARTER / "package-lock.json").read_bytes()


@pytest.fixture
def service(open_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[builder_service.BuilderService]:
    monkeypatch.setattr(oidc, "_default", CachingRequest(FakeGoogle()))
    built = builder_service.create(builder_env(open_tmp))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # the target's module configures logging
    builder_service.install(built)
    try:
        yield built
    finally:
        builder_service.install(None)
        root.handlers[:], root.level = handlers, level


@pytest.fixture
def client(service: builder_service.BuilderService) -> flask.testing.FlaskClient:
    return functions_framework.create_app(target="build", source=BUILDER_MAIN).test_client()


def _headers(**claims: Any) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token(**{'aud': AUDIENCE, 'email': WORKER_SA, **claims})}",
        "Content-Type": protocol.CONTENT_TYPE,
        protocol.BUDGET_HEADER: "600",
    }


def _snapshot(*members: tuple[str, bytes | str | None], lockfile: bytes = LOCKFILE) -> bytes:
    """A gzip tarball of the starter's lockfile and `members`: (name, file content | link target | None
    for a directory); a str content makes a symbolic link."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in [("package-lock.json", lockfile), *members]:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _left_behind(service: builder_service.BuilderService) -> list[str]:
    work = service.settings.work_dir
    return sorted(p.name for p in work.iterdir()) if work.exists() else []


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("authorization", "status", "code", "message"),
    [
        (None, 401, "missing_token", "An access token is required"),
        ("Basic d29ya2VyOg==", 401, "missing_token", "must be `Bearer <access token>`"),
        (f"Bearer {token(aud=AUDIENCE)}", 403, "forbidden", "the builder accepts only the worker's service account"),
        (f"Bearer {token(email=WORKER_SA)}", 403, "forbidden", "the builder accepts only the worker's token ("),
        (f"Bearer {mint_internal_token('s' * 40)}", 403, "forbidden", "the builder accepts only the worker's token ("),
    ],
    ids=["no-token", "not-bearer", "another-service-account", "another-audience", "a-local-task-token"],
)  # fmt: skip
def test_only_the_workers_token_for_the_builders_audience_is_accepted(
    client: flask.testing.FlaskClient,
    service: builder_service.BuilderService,
    authorization: str | None,
    status: int,
    code: str,
    message: str,
) -> None:
    headers = {k: v for k, v in _headers().items() if k != "Authorization"}
    if authorization:
        headers["Authorization"] = authorization
    response = client.post("/build", data=_snapshot(("app/page.tsx", b"x")), headers=headers)
    assert message in _error(response, status, code)
    assert _left_behind(service) == []


def test_only_post_build_is_served(client: flask.testing.FlaskClient) -> None:
    assert _error(client.get("/build", headers=_headers()), 405, "method_not_allowed")
    message = _error(client.post("/internal/worker", data=_snapshot(), headers=_headers()), 404, "not_found")
    assert message == "no builder endpoint /internal/worker"
    assert _error(client.post("/build%0A", headers=_headers()), 404, "not_found") == "no such route"


@pytest.mark.parametrize(
    "member",
    [("../escape.txt", b"out"), ("/tmp/escape.txt", b"out"), ("app/passwd", "/etc/passwd"), ("app", "/etc")],
    ids=["dot-dot", "absolute", "link-to-a-file", "link-to-a-dir"],
)
def test_a_snapshot_leaving_the_workspace_is_refused_with_nothing_written(
    client: flask.testing.FlaskClient,
    service: builder_service.BuilderService,
    member: tuple[str, bytes | str],
) -> None:
    body = _snapshot(("app/page.tsx", b"first"), member, ("app/after.tsx", b"after"))
    message = _error(client.post("/build", data=body, headers=_headers()), 400, "unsafe_archive")
    assert message.startswith("refusing archive member")
    assert _left_behind(service) == []
    assert not (service.settings.work_dir.parent / "escape.txt").exists()


def test_snapshots_too_large_or_not_a_tarball_are_refused(
    client: flask.testing.FlaskClient,
    service: builder_service.BuilderService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(protocol, "MAX_UNPACKED_BYTES", 10_000)
    bomb = _snapshot(("public/zeros.bin", b"\0" * 20_000))  # a few hundred bytes compressed
    assert "unpacks to more than" in _error(
        client.post("/build", data=bomb, headers=_headers()), 413, "payload_too_large"
    )
    monkeypatch.setattr(protocol, "MAX_SNAPSHOT_BYTES", len(bomb) - 1)
    assert "larger than" in _error(
        client.post("/build", data=bomb, headers=_headers()), 413, "payload_too_large"
    )
    message = _error(
        client.post("/build", data=b"PK\x03\x04 not a tarball", headers=_headers()), 400, "invalid_request"
    )
    assert message.startswith("the snapshot is not a gzip tarball")
    assert _left_behind(service) == []


def test_a_workspace_of_another_starter_or_without_a_budget_is_refused(
    client: flask.testing.FlaskClient, service: builder_service.BuilderService
) -> None:
    other = _snapshot(lockfile=LOCKFILE.replace(b'"lockfileVersion"', b'"name2": "x", "lockfileVersion"'))
    assert "different starters" in _error(
        client.post("/build", data=other, headers=_headers()), 409, "conflict"
    )
    for budget in (None, "0", "soon"):
        headers = {k: v for k, v in _headers().items() if k != protocol.BUDGET_HEADER}
        if budget is not None:
            headers[protocol.BUDGET_HEADER] = budget
        message = _error(client.post("/build", data=_snapshot(), headers=headers), 400, "invalid_request")
        assert message == "X-Appgen-Budget-Seconds must be a positive number of seconds"
    assert _left_behind(service) == []


def test_a_second_build_at_once_is_told_to_come_back(
    client: flask.testing.FlaskClient, service: builder_service.BuilderService
) -> None:
    with service.busy:  # a build is running
        response = client.post("/build", data=_snapshot(), headers=_headers())
    assert _error(response, 429, "rate_limited") == "the builder runs one build at a time"
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("asked", [True, False])
def test_the_stylesheets_class_names_are_answered_to_a_worker_that_asks_for_them(
    client: flask.testing.FlaskClient,
    service: builder_service.BuilderService,
    monkeypatch: pytest.MonkeyPatch,
    asked: bool,
) -> None:
    built = BuildResult(None, CommandResult(BUILD, 0, "", 1.0), stylesheet_classes=frozenset({"flex"}))
    monkeypatch.setattr(service.builder, "build", lambda request: built)
    headers = {**_headers(), **({protocol.CLASSES_HEADER: "1"} if asked else {})}
    response = client.post("/build", data=_snapshot(), headers=headers)
    assert response.status_code == 200
    result = json.loads(response.get_data().lstrip(protocol.HEARTBEAT))["result"]
    assert result.get("stylesheetClasses") == (["flex"] if asked else None)
    assert ("stylesheetClasses" in result) is asked


def test_a_worker_the_builder_refuses_fails_its_step_saying_what_to_fix(
    service: builder_service.BuilderService, open_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = functions_framework.create_app(target="build", source=BUILDER_MAIN)
    other = "agent-orchestrator-sa@demo-project.iam.gserviceaccount.com"
    monkeypatch.setattr(remote_builder, "google_request", lambda: FakeMetadata(other))
    builder = RemoteBuilder(
        "http://builder", AUDIENCE, client=httpx.Client(transport=httpx.WSGITransport(app=app))
    )
    (open_tmp / "ws").mkdir()
    with pytest.raises(errors.StepFailed) as raised:
        builder.build(BuildRequest(open_tmp / "ws", lambda limit: limit))
    assert raised.value.error_code == ErrorCode.INTERNAL
    assert "roles/run.invoker" in raised.value.message


@pytest.mark.parametrize(
    "secret",
    ["GEMINI_API_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_JWT_SECRET", "APPGEN_DATABASE_URL",
     "APPGEN_INTERNAL_SECRET", "GOOGLE_APPLICATION_CREDENTIALS", "NPM_CONFIG__AUTHTOKEN", "STRIPE_API_KEY"],
)  # fmt: skip
def test_the_builder_refuses_to_start_holding_a_secret(open_tmp: Path, secret: str) -> None:
    with pytest.raises(errors.ConfigError) as raised:
        builder_service.create(builder_env(open_tmp, **{secret: "value-the-builder-must-not-hold"}))
    assert raised.value.message == (
        f"the builder service holds no secret, but {secret} is set: remove it from its environment "
        "(the builder runs agent-written code)"
    )


def test_the_builder_refuses_to_start_without_its_caller_or_its_starters_tree(open_tmp: Path) -> None:
    env = builder_env(open_tmp)
    with pytest.raises(errors.ConfigError) as raised:
        builder_service.create({k: v for k, v in env.items() if k != "APPGEN_BUILDER_CALLER"})
    assert (
        raised.value.message
        == "the builder service needs APPGEN_BUILDER_CALLER (the worker's service account)"
    )
    with pytest.raises(errors.ConfigError) as raised:
        builder_service.create({**env, "APPGEN_NPM_CACHE": str(open_tmp / "empty-cache")})
    assert raised.value.message.endswith(
        "holds no tree for the starter's lockfile: the builder never installs, its image does "
        "(builder_container/Dockerfile)"
    )


def test_the_pages_to_render_reach_the_build_outside_its_workspace_and_their_shots_the_answer(
    client: flask.testing.FlaskClient,
    service: builder_service.BuilderService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = render.RenderPage("home", "<h1>Home</h1>", "index.html")
    png = render.PNG_SIGNATURE + b"home"
    seen: list[tuple[tuple[render.RenderPage, ...], list[str]]] = []

    def build(request: BuildRequest) -> BuildResult:
        seen.append((request.render, sorted(p.name for p in request.workspace.iterdir())))
        shots = render.Shots({render.shot_name("home", "mobile", "built"): png}, {"*": "one side failed"})
        return BuildResult(None, CommandResult(BUILD, 0, "built", 1.0), shots=shots)

    monkeypatch.setattr(service.builder, "build", build)
    request = json.dumps({"pages": [{"name": "home", "preview": "<h1>Home</h1>", "built": "index.html"}]})
    body = _snapshot(("app/page.tsx", b"x"), (render_request.RENDER_MEMBER, request.encode()))
    response = client.post("/build", data=body, headers=_headers())

    assert response.status_code == 200
    assert seen == [((home,), ["app", "package-lock.json"])]
    result = protocol.decode_answer(response.get_data(), "test", (home,))
    assert result.shots == render.Shots({"home@390.built.png": png}, {"*": "one side failed"})
    assert _left_behind(service) == []


def test_a_render_request_that_is_not_the_format_is_refused_before_the_build(
    client: flask.testing.FlaskClient, service: builder_service.BuilderService
) -> None:
    request = {"pages": [{"name": "home", "preview": None, "built": "../../../etc/passwd.html"}]}
    body = _snapshot((render_request.RENDER_MEMBER, json.dumps(request).encode()))
    message = _error(client.post("/build", data=body, headers=_headers()), 400, "invalid_request")
    assert message == (
        "the render request is not valid: the built page of 'home' is not a relative path of an .html file"
    )
    assert _left_behind(service) == []


@pytest.mark.parametrize("where", ["in-the-build", "encoding-its-result", "serializing-the-answer"])
def test_a_build_that_crashes_answers_an_internal_error_and_leaves_the_builder_empty_and_free(
    client: flask.testing.FlaskClient,
    service: builder_service.BuilderService,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    def build(request: BuildRequest) -> object:
        (request.workspace / "left-by-the-build").write_text("x")
        if where == "in-the-build":
            raise RuntimeError("the build blew up")
        return object()  # not a BuildResult: encoding it fails

    monkeypatch.setattr(service.builder, "build", build)
    if where == "serializing-the-answer":
        monkeypatch.setattr(protocol, "encode_result", lambda result, **_: {"error": {"code": object()}})
    response = client.post("/build", data=_snapshot(), headers=_headers())
    assert response.status_code == 200
    body = json.loads(response.get_data().lstrip(protocol.HEARTBEAT))
    assert body == {"error": {"code": "internal", "message": "the build crashed"}}
    assert _left_behind(service) == []
    assert service.busy.acquire(blocking=False), "the next build would be refused"
    service.busy.release()
