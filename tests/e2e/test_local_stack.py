"""`appgen dev` as an operator runs it: one ready line, health, a superuser DSN that works, a clean stop
of everything it started (database included), and a restart that reuses the same cluster."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from pathlib import Path

import httpx
import jwt
import psycopg

from appgen.settings import LOCAL_JWT_SECRET, REPO_ROOT
from tests.e2e.stack import APPGEN, start_stack
from tests.fixtures.specs import small_spec


def _port_open(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/")[0].rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_dev_serves_stops_cleanly_and_reuses_its_cluster(open_tmp: Path) -> None:
    data_dir = open_tmp / "data"
    env = {"GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9"}  # no agent runs in this test
    stack = start_stack(data_dir, env)
    try:
        assert httpx.get(f"{stack.api}/healthz").json() == {"status": "ok"}
        with psycopg.connect(stack.database) as conn:
            assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (
                True,
            )
            applied = conn.execute("select count(*) from supabase_migrations.schema_migrations").fetchone()
            assert applied is not None and applied[0] >= 4
        user = str(uuid.uuid4())
        token = subprocess.run(
            [str(APPGEN), "token", "--user", user], capture_output=True, text=True, check=True
        ).stdout.strip()
        submitted = httpx.post(
            f"{stack.api}/api/agentic/jobs", json=small_spec(1), headers={"Authorization": f"Bearer {token}"}
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["jobId"]

        # What the /build frontend uses: its config, the development sign-in, and the event stream.
        config = httpx.get(f"{stack.api}/build/config.json").json()
        assert config == {
            "apiUrl": stack.api,
            "devSignIn": True,
            "supabaseUrl": None,
            "supabaseAnonKey": None,
        }
        signed_in = httpx.post(f"{stack.api}/dev/token", json={"userId": user})
        assert signed_in.status_code == 200, signed_in.text
        events = f"{stack.api}/api/agentic/jobs/{job_id}/events"
        with httpx.stream("GET", events, params={"access_token": signed_in.json()["accessToken"]}) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            first = [next(lines) for _ in range(3)]
        assert first[0].startswith("id: ") and first[1] == "event: job", first
        assert json.loads(first[2].removeprefix("data: "))["jobId"] == job_id
        assert "access_token=" + signed_in.json()["accessToken"] not in stack.log(), "a token was logged"
    finally:
        assert stack.stop() == 0, stack.log()
    assert not _port_open(stack.api)
    assert not _port_open("http://" + stack.database.split("@", 1)[1])
    assert not (data_dir / "pg" / "pgdata" / "postmaster.pid").exists(), "the database was left running"

    again = start_stack(data_dir, env)
    try:
        with psycopg.connect(again.database) as conn:
            row = conn.execute(
                "select owner_id::text from app_generation_jobs where id = %s", (job_id,)
            ).fetchone()
        assert row == (user,), "the restarted stack did not reuse the cluster"
    finally:
        assert again.stop() == 0


def test_token_command_prints_a_supabase_access_token() -> None:
    user = str(uuid.uuid4())
    out = subprocess.run(
        [str(APPGEN), "token", "--user", user, "--ttl", "120"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.strip()
    claims = jwt.decode(out, LOCAL_JWT_SECRET, algorithms=["HS256"], audience="authenticated")
    assert claims["sub"] == user and claims["role"] == "authenticated"
    assert claims["exp"] - claims["iat"] == 120
    bad = subprocess.run(
        [str(APPGEN), "token", "--user", "nope"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert bad.returncode == 2 and "must be a UUID" in bad.stderr


def test_demo_prints_the_stacks_own_reason_when_it_cannot_start(open_tmp: Path) -> None:
    """Seen: `make demo` said only "exited early; see its log" when the embedded database could not start."""
    env = {**os.environ, "APPGEN_DATA_DIR": str(open_tmp / "data"), "APPGEN_DATABSE_URL": "typo"}
    demo = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "python"), str(REPO_ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert demo.returncode == 1, demo
    assert (
        "the local stack could not start (exit code 1): unknown setting APPGEN_DATABSE_URL; "
        "did you mean APPGEN_DATABASE_URL?"
    ) in demo.stderr, demo.stderr
    assert f"(its whole log: {open_tmp / 'data' / 'demo-stack.log'})" in demo.stderr
    assert "see its log" not in demo.stderr
