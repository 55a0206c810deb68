"""The Functions Framework targets, the worker and the builder started as Cloud Run starts them (`functions-framework
--source … --target …` in a fresh process with only the given environment): an incomplete or unsafe
configuration stops the start with the reason, instead of a server that answers every request with 500
`config_error`; a complete one serves, and streams job events through the framework's gunicorn server
without starving its other requests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from appgen.auth import mint_user_token
from appgen.gateway import Caller, ControlPlane
from appgen.settings import REPO_ROOT
from tests.fixtures.specs import small_spec
from tests.fixtures.starters import builder_env
from tests.fixtures.waiting import wait_for
from tests.integration.sse import Stream

FRAMEWORK = REPO_ROOT / ".venv" / "bin" / "functions-framework"
FUNCTIONS = REPO_ROOT / "functions" / "main.py"
WORKER = REPO_ROOT / "worker_container" / "main.py"
INTERNAL_SECRET = "startup-test-internal-secret-0123456789"
JWT_SECRET = "startup-test-jwt-secret-0123456789-abcdef"


@dataclass
class Outcome:
    exit_code: int | None  # None: it started serving
    stderr: str
    answer: httpx.Response | None = None  # what `probe` answered, when it served


def start(
    source: Path,
    target: str,
    env: dict[str, str],
    probe: tuple[str, str],
    tmp: Path,
    command: list[str] | None = None,
) -> Outcome:
    """Start the target (or an image's `command`, run from the repository as from the image's WORKDIR,
    on $PORT); return how it exited, or, once it serves, its answer to `probe` (then stop it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stderr_path = tmp / f"{target}.stderr"
    argv = [str(FRAMEWORK), "--source", str(source), "--target", target, "--port", str(port)]
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            command or argv,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp), "HOST": "127.0.0.1", "PORT": str(port), **env},
            cwd=REPO_ROOT if command else tmp,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return Outcome(process.returncode, stderr_path.read_text())
            try:
                answer = httpx.request(probe[0], f"http://127.0.0.1:{port}{probe[1]}", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            return Outcome(None, stderr_path.read_text(), answer)
        raise AssertionError(f"{target} neither served nor exited:\n{stderr_path.read_text()}")
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def env(db_dsn: str, tmp_path: Path) -> dict[str, str]:
    """A complete local configuration of the functions (the database is the test's)."""
    return {
        "APPGEN_DATABASE_URL": db_dsn,
        "APPGEN_INTERNAL_SECRET": INTERNAL_SECRET,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "APPGEN_DATA_DIR": str(tmp_path / "data"),
    }


STATUS = ("GET", "/api/agentic/jobs/00000000-0000-4000-8000-000000000000")


def test_a_complete_configuration_serves(env: dict[str, str], tmp_path: Path) -> None:
    outcome = start(FUNCTIONS, "status", env, STATUS, tmp_path)
    assert outcome.answer is not None, outcome.stderr
    assert outcome.answer.status_code == 401 and outcome.answer.json()["error"]["code"] == "missing_token"


@pytest.mark.parametrize(
    ("target", "change", "reason"),
    [
        (
            "status",  # seen: it answered every request with 500 config_error
            {"APPGEN_INTERNAL_SECRET": None},
            "APPGEN_INTERNAL_SECRET is not set: the local object store signs its download links with it",
        ),
        (
            "api",
            {"SUPABASE_JWT_SECRET": None},
            "no way to verify users' access tokens: set SUPABASE_JWT_SECRET",
        ),
        (
            "submit",
            {"SUPABASE_JWT_SECRET": "too-short"},
            "SUPABASE_JWT_SECRET must be at least 32 characters",
        ),
        (
            "list_jobs",
            {"APPGEN_DATABASE_URL": None},
            "no control plane configured: set APPGEN_DATABASE_URL (direct Postgres) or SUPABASE_URL",
        ),
        (
            "logs",
            {"APPGEN_RATE_LIMIT_PER_MINUTE": "-5"},
            "APPGEN_RATE_LIMIT_PER_MINUTE must be positive or 0 (off), got '-5'",
        ),
        (
            "cancel",
            {"APPGEN_DISPATCHR": "local"},
            "unknown setting APPGEN_DISPATCHR; did you mean APPGEN_DISPATCHER?",
        ),
        (
            "cleanup",
            {
                "APPGEN_DISPATCHER": "cloud-tasks",
                "APPGEN_GCP_PROJECT": "p",
                "APPGEN_TASKS_LOCATION": "europe-west1",
                "APPGEN_TASKS_SERVICE_ACCOUNT": "tasks@p.iam.gserviceaccount.com",
                "APPGEN_TASKS_AUDIENCE": "https://internal.example",
                "APPGEN_ORCHESTRATE_URL": "https://orchestrate.example",
                "APPGEN_WORKER_URL": "https://worker.example",
            },
            "APPGEN_DISPATCHER=cloud-tasks needs APPGEN_ARTIFACT_STORE=supabase or gcs, not local files",
        ),
    ],
)
def test_an_incomplete_configuration_stops_the_start_with_the_reason(
    env: dict[str, str], tmp_path: Path, target: str, change: dict[str, str | None], reason: str
) -> None:
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    outcome = start(FUNCTIONS, target, env, STATUS, tmp_path)
    assert outcome.exit_code == 1, (outcome.answer, outcome.stderr)
    assert f"appgen cannot start: {reason}" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_internal_targets_need_no_user_token_verifier(env: dict[str, str], tmp_path: Path) -> None:
    del env["SUPABASE_JWT_SECRET"]
    outcome = start(FUNCTIONS, "orchestrate", env, ("POST", "/internal/orchestrate"), tmp_path)
    assert outcome.answer is not None, outcome.stderr
    assert outcome.answer.status_code == 401 and outcome.answer.json()["error"]["code"] == "missing_token"


def test_the_worker_starts_only_when_it_can_run_agents(env: dict[str, str], tmp_path: Path) -> None:
    del env["SUPABASE_JWT_SECRET"]  # the worker never sees users' tokens, so it holds no secret for them
    probe = ("POST", "/internal/worker")
    missing_key = start(WORKER, "run_task", env, probe, tmp_path)
    assert missing_key.exit_code == 1, missing_key.stderr
    assert (
        "appgen cannot start: GEMINI_API_KEY is not set: the worker cannot run agents" in missing_key.stderr
    )

    no_cli = start(
        WORKER,
        "run_task",
        {**env, "GEMINI_API_KEY": "k", "APPGEN_GEMINI_BIN": "/nowhere/gemini"},
        probe,
        tmp_path,
    )
    assert no_cli.exit_code == 1, no_cli.stderr
    assert "appgen cannot start: the Gemini CLI is not installed at /nowhere/gemini" in no_cli.stderr

    serving = start(WORKER, "run_task", {**env, "GEMINI_API_KEY": "k"}, probe, tmp_path)
    assert serving.answer is not None, serving.stderr
    assert serving.answer.status_code == 401 and serving.answer.json()["error"]["code"] == "missing_token"


BUILDER = REPO_ROOT / "builder_container" / "main.py"


def _image_command(dockerfile: Path) -> list[str]:
    """The image's CMD, with this checkout's virtualenv for the image's /opt/venv."""
    (line,) = [line for line in dockerfile.read_text().splitlines() if line.startswith("CMD ")]
    argv = json.loads(line.removeprefix("CMD "))
    return [str(FRAMEWORK.parent / Path(argv[0]).name), *argv[1:]]


def test_the_builder_image_command_serves_only_the_worker_and_refuses_to_start_holding_a_secret(
    tmp_path: Path,
) -> None:
    env = builder_env(tmp_path)
    probe = ("POST", "/build")
    command = _image_command(BUILDER.parent / "Dockerfile")
    for secret in ("GEMINI_API_KEY", "APPGEN_DATABASE_URL"):
        leaked = {**env, secret: "a-value-the-builder-must-not-hold"}
        refused = start(BUILDER, "build", leaked, probe, tmp_path, command)
        assert refused.exit_code == 1, refused.stderr
        assert (
            f"appgen cannot start: the builder service holds no secret, but {secret} is set" in refused.stderr
        )
        assert "a-value-the-builder-must-not-hold" not in refused.stderr and "Traceback" not in refused.stderr

    serving = start(BUILDER, "build", env, probe, tmp_path, command)
    assert serving.answer is not None, serving.stderr
    assert serving.answer.status_code == 401 and serving.answer.json()["error"]["code"] == "missing_token"


@contextmanager
def serving(target: str, env: dict[str, str], tmp: Path) -> Iterator[str]:
    """The target served as Cloud Run serves it (the framework's gunicorn server), until the block ends;
    its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stderr_path = tmp / f"{target}.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [str(FRAMEWORK), "--source", str(FUNCTIONS), "--target", target, "--port", str(port)],
            env={"PATH": os.environ["PATH"], "HOME": str(tmp), "HOST": "127.0.0.1", **env},
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, stderr_path.read_text()
        try:
            return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, 60, f"{target} to serve")
        yield base
    finally:
        process.terminate()
        process.wait(10)


def test_the_api_target_streams_events_on_at_most_half_its_threads(
    env: dict[str, str], tmp_path: Path, control_plane: ControlPlane, alice: Caller
) -> None:
    """Under gunicorn's threaded worker each open stream holds a thread: with THREADS=4, two streams may
    be open, a third is refused with 503, and status requests are still answered at once meanwhile."""
    job, _ = control_plane.submit_job(alice, small_spec(1), None)
    user = str((alice.claims or {})["sub"])
    headers = {"Authorization": f"Bearer {mint_user_token(user, JWT_SECRET)}"}
    path = f"/api/agentic/jobs/{job}/events"
    env = {**env, "THREADS": "4", "APPGEN_EVENTS_HEARTBEAT_SECONDS": "0.2"}
    with serving("api", env, tmp_path) as base:
        held = [Stream(base, path, headers) for _ in range(2)]
        assert [s.status for s in held] == [200, 200]
        assert [s.take(1)[0].data["jobId"] for s in held] == [str(job)] * 2, "the first event arrives at once"
        refused = Stream(base, path, headers)
        assert refused.status == 503 and "at most 2 event streams" in refused.json()["error"]["message"]
        refused.close()  # gunicorn keeps the connection alive
        for _ in range(5):  # the other half of the threads still answers
            started = time.monotonic()
            status = httpx.get(f"{base}/api/agentic/jobs/{job}", headers=headers, timeout=5)
            assert status.status_code == 200 and status.json()["jobId"] == str(job)
            assert time.monotonic() - started < 2
        control_plane.append_job_log(job, None, "info", "queued", "pushed through gunicorn")
        line = next(e for e in held[0].events() if e.event == "log")  # pings may come first
        assert line.data["message"] == "pushed through gunicorn"
        held[0].close()  # the server notices at its next heartbeat and frees the thread and the slot

        def reopened() -> bool:
            stream = Stream(base, f"{path}?access_token={headers['Authorization'][7:]}")
            stream.close()
            return stream.status == 200

        wait_for(reopened, 10, "a freed slot")
        held[1].close()
    logged = (tmp_path / "api.stderr").read_text()
    assert headers["Authorization"][7:].rsplit(".", 1)[1] not in logged, "a token was logged"


def test_the_api_targets_worker_serves_concurrent_requests_on_connections_of_its_own(
    env: dict[str, str], tmp_path: Path, db_dsn: str, control_plane: ControlPlane, alice: Caller
) -> None:
    """gunicorn forks its worker after the framework imported the target, whose services (and connection
    pool) were built in the master: the worker must not be left with the master's one connection and no
    pool threads to add more. With the jobs table locked, three status requests at once each wait in the
    database on a connection of their own (none queues for a pooled one until it answers 503), and all
    three answer once the lock is gone."""
    job, _ = control_plane.submit_job(alice, small_spec(1), None)
    user = str((alice.claims or {})["sub"])
    headers = {"Authorization": f"Bearer {mint_user_token(user, JWT_SECRET)}"}
    database = db_dsn.rsplit("/", 1)[1]
    with serving("api", {**env, "THREADS": "4"}, tmp_path) as base:
        url = f"{base}/api/agentic/jobs/{job}"
        assert httpx.get(url, headers=headers, timeout=5).status_code == 200
        with psycopg.connect(db_dsn) as locker, ThreadPoolExecutor(3) as pool:
            locker.execute("lock table app_generation_jobs in access exclusive mode")
            answers = [pool.submit(httpx.get, url, headers=headers, timeout=30) for _ in range(3)]

            def waiting_on_the_lock() -> bool:
                with psycopg.connect(db_dsn, autocommit=True) as conn:
                    row = conn.execute(
                        "select count(*) from pg_stat_activity where datname = %s and wait_event_type = 'Lock'",
                        (database,),
                    ).fetchone()
                return row is not None and row[0] == 3

            wait_for(
                waiting_on_the_lock, 10, "three requests waiting on the lock, each on its own connection"
            )
            locker.rollback()
            statuses = [(a.result().status_code, a.result().json().get("jobId")) for a in answers]
        assert statuses == [(200, str(job))] * 3
