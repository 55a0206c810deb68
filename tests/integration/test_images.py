"""The images' entry commands, run outside Docker the way the images would run them (no Docker engine
here): the files each Dockerfile COPYs, staged at their paths under a stand-in of WORKDIR, its CMD (with
this virtualenv's functions-framework for /opt/venv's), its ENV, and the environment `appgen deploy`
gives the service (secrets filled with test values, the control plane a real PostgreSQL). `PYTHONPATH`
points at the staged copy, so appgen runs from it: a file the image would lack is missing here too.

The API then passes the deploy's own smoke check (`/healthz` and an authenticated list call); the internal
targets answer only their path, and refuse a call without the tasks' token.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from appgen.auth import mint_user_token
from appgen.deploy.cloudrun import Service
from appgen.deploy.command import smoke
from appgen.deploy.images import copied_sources
from appgen.deploy.plan import API, DOCKERFILES, ORCHESTRATE, WORKER, Options, build_plan
from appgen.deploy.resources import Scope
from appgen.settings import REPO_ROOT
from tests.fixtures.waiting import wait_for

VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin"
JWT_SECRET = "image-test-jwt-secret-" + "x" * 20
Start = Callable[..., str]
SCOPE = Scope("demo-proj", "123456789012", "europe-west1")


def _instructions(dockerfile: str) -> list[tuple[str, list[str]]]:
    text = re.sub(r"\\\n", " ", (REPO_ROOT / dockerfile).read_text())
    result = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            result.append((words[0].upper(), words[1:]))
    return result


def _stage(dockerfile: str, root: Path) -> Path:
    """WORKDIR as the image has it: every COPY source at the same relative path (which each COPY keeps)."""
    for keyword, args in _instructions(dockerfile):
        if keyword == "COPY":
            *sources, target = args
            for source in sources:
                lands = target + Path(source).name if target.endswith("/") else target
                assert Path(lands) == Path(source), f"COPY {args}: {source} lands at {lands}"
    for source in copied_sources(REPO_ROOT / dockerfile):
        origin, copy = REPO_ROOT / source, root / source
        if origin.is_dir():
            shutil.copytree(origin, copy, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, copy)
    return root


def _image_env(dockerfile: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in _instructions(dockerfile):
        if keyword == "ENV":
            env |= dict(arg.split("=", 1) for arg in args)
    return env


def _cmd(dockerfile: str) -> list[str]:
    (cmd,) = [json.loads(line.split(None, 1)[1]) for line in (REPO_ROOT / dockerfile).read_text().splitlines()
              if line.startswith("CMD ")]  # fmt: skip
    return [str(VENV_BIN / Path(cmd[0]).name) if cmd[0].startswith("/opt/venv/") else cmd[0], *cmd[1:]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def run_image(db_dsn: str) -> Iterator[Start]:
    """Start an image's entry command as the deploy configures `service`; yields a starter returning the
    base URL. Every process is stopped (its whole group) afterwards."""
    plan = build_plan(Options(SCOPE.project, SCOPE.region, REPO_ROOT), SCOPE)
    services = {r.name: r for r in plan.resources if isinstance(r, Service)}
    processes: list[subprocess.Popen[bytes]] = []
    roots: list[Path] = []

    def start(image: str, service: str, target: str | None = None) -> str:
        dockerfile = DOCKERFILES[image]
        root = Path(tempfile.mkdtemp(prefix=f"appgen-image-{image}-"))
        roots.append(root)
        app = _stage(dockerfile, root / "app")
        if "npm ci --prefix worker_container" in (REPO_ROOT / dockerfile).read_text():
            # What that RUN leaves in the image: the Gemini CLI of the lockfile, which `make deps` also
            # installed here (the worker checks for it when it starts).
            (app / "worker_container" / "node_modules").symlink_to(
                REPO_ROOT / "worker_container" / "node_modules"
            )
        deployed = services[service]
        secrets = {
            "APPGEN_DATABASE_URL": db_dsn,
            "APPGEN_DATABASE_LISTEN_URL": db_dsn,  # a session connection here, as the deployed secret is
            "SUPABASE_JWT_SECRET": JWT_SECRET,
            "GEMINI_API_KEY": "test-key",
        }
        assert set(deployed.secrets) <= set(secrets)
        port = _free_port()
        env = {
            "PATH": os.environ["PATH"],
            **_image_env(dockerfile),
            **deployed.env,
            **{name: secrets[name] for name in deployed.secrets},
            "PORT": str(port),
            "PYTHONPATH": str(app),
            "HOME": str(root),  # the image's /workspace
            "APPGEN_WORK_DIR": str(root / "jobs"),
            "APPGEN_NPM_CACHE": str(root / "npm-cache"),
            "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",  # a GCS client without credentials; never called
        }
        if target is not None:
            env["FUNCTION_TARGET"] = target
        with (root / "stderr").open("wb") as stderr:
            process = subprocess.Popen(
                _cmd(dockerfile), cwd=app, env=env, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        processes.append(process)
        url = f"http://127.0.0.1:{port}"

        def answering() -> bool:
            assert process.poll() is None, (root / "stderr").read_text()[-3000:]
            try:
                httpx.get(url + "/", timeout=2)
            except httpx.TransportError:
                return False
            return True

        wait_for(answering, 60, f"the {image} image's entry command to listen on {port}")
        return url

    yield start
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


def test_the_functions_image_serves_the_api_and_passes_the_deploys_smoke_check(run_image: Start) -> None:
    url = run_image("functions", API)
    said: list[str] = []
    smoke(url, mint_user_token(str(uuid.uuid4()), JWT_SECRET, 300), said.append)
    assert said == ["smoke check: GET /healthz -> 200", "smoke check: GET /api/agentic/jobs -> 200"]
    document = httpx.get(f"{url}/openapi.json", timeout=10)  # openapi.yaml is in the image
    assert document.status_code == 200 and document.json()["openapi"].startswith("3.1")


def test_the_functions_image_serves_the_orchestrate_target_when_its_service_names_it(
    run_image: Start,
) -> None:
    url = run_image("functions", ORCHESTRATE, target="orchestrate")
    refused = httpx.post(f"{url}/internal/orchestrate", json={"jobId": str(uuid.uuid4())}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "missing_token"
    api_route = httpx.get(f"{url}/healthz", timeout=10)  # the API's, which this target does not serve
    assert api_route.status_code == 401 and api_route.json()["error"]["code"] == "missing_token"


def test_the_worker_image_serves_the_worker_target_and_refuses_calls_without_the_tasks_token(
    run_image: Start,
) -> None:
    url = run_image("worker", WORKER)
    refused = httpx.post(f"{url}/internal/worker", json={"taskId": str(uuid.uuid4())}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "missing_token"
    api_route = httpx.get(f"{url}/healthz", timeout=10)
    assert api_route.status_code == 401 and api_route.json()["error"]["code"] == "missing_token"
