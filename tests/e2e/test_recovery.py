"""Crashes and cancels on a running `appgen dev`: nothing is lost when the whole stack is SIGKILLed mid-job
(database included) and started again, and a cancel stops the agent's processes within seconds."""

from __future__ import annotations

import os
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import pytest

from appgen.agents.standin import GeminiStandIn
from appgen.auth import mint_user_token
from appgen.client import ApiClient
from appgen.settings import LOCAL_JWT_SECRET
from appgen.status import FINISHED
from tests.e2e.stack import start_stack
from tests.fixtures.specs import small_spec

pytestmark = pytest.mark.e2e


def _env(double: GeminiStandIn, tmp: Path) -> dict[str, str]:
    return {
        "GOOGLE_GEMINI_BASE_URL": double.url,
        "GEMINI_MODEL": "gemini-2.5-flash",
        "APPGEN_NPM_CACHE": str(Path.home() / ".npm"),
        "APPGEN_WORK_DIR": str(tmp / "work"),
        "APPGEN_TASK_LEASE_SECONDS": "6",
        "APPGEN_SWEEP_INTERVAL": "2",
    }


def _wait_for(predicate: Any, timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _page_agent_asked(double: GeminiStandIn) -> bool:
    return any("pageId: home" in str(r.body) for r in double.requests)


def _agent_processes(work_dir: Path) -> list[int]:
    """Processes (the Gemini CLI and its children) whose working directory is inside the worker's dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd.is_relative_to(work_dir):
            found.append(int(entry.name))
    return found


def test_a_killed_stack_restarts_and_finishes_the_job(open_tmp: Path) -> None:
    data_dir = open_tmp / "data"
    with GeminiStandIn(delay_s=2) as double:
        env = _env(double, open_tmp)
        stack = start_stack(data_dir, env)
        token = mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET)
        client = ApiClient(stack.api, token)
        try:
            job_id = client.submit(small_spec(pages=1))
            _wait_for(lambda: _page_agent_asked(double), 120, "the page agent to start")
        finally:
            client.close()
        stack.kill_everything()  # mid page task: the database and every thread go at once

        stack = start_stack(data_dir, env)
        client = ApiClient(stack.api, token)
        try:
            _wait_for(lambda: client.status(job_id)["status"] in FINISHED, 480, "the job to finish", every=1)
            status = client.status(job_id)
            assert status["status"] == "completed", (status, stack.log())
            archive = client.download(job_id, open_tmp / "app.zip")
            with psycopg.connect(stack.database) as conn:
                page_task = conn.execute(
                    "select attempt, redelivery from app_generation_tasks where job_id = %s and kind = 'page'",
                    (job_id,),
                ).fetchone()
        finally:
            client.close()
            assert stack.stop() == 0, stack.log()
    assert page_task is not None and page_task[0] >= 2 and page_task[1] >= 1, page_task  # taken over, re-sent
    with zipfile.ZipFile(archive) as zipped:
        assert "app/page.tsx" in zipped.namelist()


def test_cancel_during_a_page_agent_stops_its_processes_within_seconds(open_tmp: Path) -> None:
    with GeminiStandIn(delay_s=120) as double:  # the page agent's first model call hangs
        stack = start_stack(open_tmp / "data", _env(double, open_tmp))
        client = ApiClient(stack.api, mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET))
        try:
            job_id = client.submit(small_spec(pages=1))
            _wait_for(lambda: _page_agent_asked(double), 120, "the page agent to start")
            assert _agent_processes(open_tmp / "work"), "the agent should be running now"

            cancelled_at = time.monotonic()
            assert client.cancel(job_id)["status"] == "cancelled"
            _wait_for(lambda: not _agent_processes(open_tmp / "work"), 5, "the agent's processes to go")
            assert time.monotonic() - cancelled_at < 5
            status = client.status(job_id)
            assert status["status"] == "cancelled"
        finally:
            client.close()
        with psycopg.connect(stack.database) as conn:
            row = conn.execute(
                "select app_generation_refunded(j) from app_generation_jobs j where id = %s", (job_id,)
            ).fetchone()
        assert row == (True,), "a cancelled job does not count against the daily cap"
        assert stack.stop() == 0, stack.log()
