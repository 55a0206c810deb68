"""Crashes and cancels on a running `appgen dev`: nothing is lost when the whole stack is SIGKILLed mid-job
(database included) and started again, its agents die with it, and a cancel stops the agent's processes
within seconds."""

from __future__ import annotations

import os
import time
import uuid
import zipfile
from pathlib import Path

import psycopg
import pytest

from appgen.agents.standin import GeminiStandIn, call
from appgen.auth import mint_user_token
from appgen.client import ApiClient
from appgen.settings import LOCAL_JWT_SECRET
from tests.e2e.stack import INSTALL_CACHE, start_stack
from tests.fixtures.specs import BROKEN_HOME_PAGE, fixed_home_page, small_spec
from tests.fixtures.waiting import wait_for, wait_until_finished

pytestmark = pytest.mark.e2e


def _env(double: GeminiStandIn, tmp: Path) -> dict[str, str]:
    return {
        "GOOGLE_GEMINI_BASE_URL": double.url,
        "GEMINI_MODEL": "gemini-2.5-flash",
        "APPGEN_NPM_CACHE": str(INSTALL_CACHE),
        "APPGEN_WORK_DIR": str(tmp / "work"),
        "APPGEN_TASK_LEASE_SECONDS": "6",
        "APPGEN_SWEEP_INTERVAL": "2",
    }


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


FIXED_PAGE = fixed_home_page("Welcome to Home. Fixed after a crash.")


def _asked(double: GeminiStandIn, marker: str) -> bool:
    return any(marker in str(r.body) for r in double.requests)


def test_a_stack_killed_mid_page_and_mid_fix_round_restarts_and_finishes_the_job(open_tmp: Path) -> None:
    data_dir = open_tmp / "data"
    with GeminiStandIn(delay_s=2) as double:
        # The integration agent breaks the build, so the job needs a fix round; the fixer repairs it.
        double.on(
            "Task: integrate the app",
            [call("write_file", {"file_path": "components/home/Page.tsx", "content": BROKEN_HOME_PAGE})],
        )
        double.on(
            "Task: fix the failing check",
            [call("write_file", {"file_path": "components/home/Page.tsx", "content": FIXED_PAGE})],
        )
        env = _env(double, open_tmp)
        token = mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET)
        stack = start_stack(data_dir, env)
        with ApiClient(stack.api, token) as client:
            job_id = client.submit(small_spec(pages=1))
        # Twice the whole stack goes at once, database included: in a page task and in a fix round.
        for marker in ("pageId: home", "Task: fix the failing check"):
            wait_for(lambda m=marker: _asked(double, m), 300, f"an agent request with {marker!r}")
            assert _agent_processes(open_tmp / "work"), "the agent should be running now"
            stack.kill_everything()
            # Its own session keeps the agent out of the killed group: the parent-death signal takes it.
            wait_for(lambda: not _agent_processes(open_tmp / "work"), 5, "the dead worker's agent to go")
            stack = start_stack(data_dir, env)

        try:
            with ApiClient(stack.api, token) as client:
                status = wait_until_finished(client, job_id, 480)
                assert status["status"] == "completed", (status, stack.log())
                assert status["progress"]["fixRound"] == 1
                archive = client.download(job_id, open_tmp / "app.zip")
            with psycopg.connect(stack.database) as conn:
                resent = conn.execute(
                    "select kind, attempt >= 2 and redelivery >= 1 from app_generation_tasks "
                    "where job_id = %s and kind in ('page', 'fix') order by kind",
                    (job_id,),
                ).fetchall()
        finally:
            assert stack.stop() == 0, stack.log()
    assert resent == [("fix", True), ("page", True)]  # each taken over after its worker died
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.read("components/home/Page.tsx").decode() == FIXED_PAGE


def test_cancel_during_a_page_agent_stops_its_processes_within_seconds(open_tmp: Path) -> None:
    with GeminiStandIn(delay_s=120) as double:  # the page agent's first model call hangs
        stack = start_stack(open_tmp / "data", _env(double, open_tmp))
        client = ApiClient(stack.api, mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET))
        try:
            job_id = client.submit(small_spec(pages=1))
            wait_for(lambda: _page_agent_asked(double), 120, "the page agent to start")
            assert _agent_processes(open_tmp / "work"), "the agent should be running now"

            cancelled_at = time.monotonic()
            assert client.cancel(job_id)["status"] == "cancelled"
            wait_for(lambda: not _agent_processes(open_tmp / "work"), 5, "the agent's processes to go")
            assert time.monotonic() - cancelled_at < 5
            status = client.status(job_id)
            assert status["status"] == "cancelled"
        finally:
            client.close()
        with psycopg.connect(stack.database) as conn:
            row = conn.execute(
                "select app_generation_refunded(j) from app_generation_jobs j where id = %s", (job_id,)
            ).fetchone()
        assert row == (False,), "a job cancelled after its agents ran still counts against the daily cap"
        assert stack.stop() == 0, stack.log()
