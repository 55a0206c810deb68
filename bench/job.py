"""One generation job on a fresh local stack, timed step by step, against building its own ZIP by hand.

`run_job` starts `appgen dev` on a new data directory (a fresh worker: nothing in its own install cache),
the Gemini stand-in unscripted (the offline model: every agent's turn is answered with text, no edits),
submits a spec through the public API and follows it to the end. It measures:

- the job's wall time, submit -> the ZIP's link answered (what a user waits);
- submit -> the first model request (the stand-in's request log);
- each task's queueing gap (created -> started) and run time (started -> finished), from the task rows;
- the peak RSS of the whole stack (server, worker threads, agents, boxed builds), sampled from /proc.

`bare_build` is the baseline: the ZIP unpacked into an empty directory, `npm install && npm run build`
with an empty npm cache, as the owner would on a machine that never installed the starter.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from appgen.agents.standin import GeminiStandIn
from appgen.auth import mint_user_token
from appgen.client import ApiClient
from appgen.memory import PeakRss
from appgen.settings import LOCAL_JWT_SECRET
from appgen.status import FINISHED
from tests.e2e.stack import start_stack

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "specs" / "launchpad-saas.json"  # 4 pages
NPM_QUIET = ("--no-audit", "--no-fund", "--loglevel=error")


@dataclass
class Step:
    kind: str
    key: str
    queued_s: float  # created -> started: time the task waited for a delivery
    run_s: float  # started -> finished
    start_s: float  # since submit
    peak_rss_mib: int | None = None  # what the worker recorded for the step (appgen-report.json)


@dataclass
class JobRun:
    status: str
    wall_s: float
    first_model_request_s: float | None
    peak_rss_mib: int
    zip_path: Path
    steps: list[Step] = field(default_factory=list)

    def timeline(self) -> str:
        lines = [f"  {'step':<22} {'start':>7} {'queued':>7} {'run':>7} {'peak RSS':>9}"]
        for s in self.steps:
            rss = f"{s.peak_rss_mib} MiB" if s.peak_rss_mib is not None else "-"
            lines.append(
                f"  {s.kind + (':' + s.key if s.key else ''):<22} {s.start_s:6.1f}s "
                f"{s.queued_s:6.2f}s {s.run_s:6.1f}s {rss:>9}"
            )
        return "\n".join(lines)


def run_job(root: Path, spec_path: Path = SPEC, env: dict[str, str] | None = None) -> JobRun:
    data_dir = root / f"stack-{uuid.uuid4().hex[:8]}"
    with GeminiStandIn() as model:
        stack = start_stack(
            data_dir,
            {
                "GOOGLE_GEMINI_BASE_URL": model.url,
                "NEXT_TELEMETRY_DISABLED": "1",
                "APPGEN_RATE_LIMIT_PER_MINUTE": "0",  # the bench polls status every 0.1 s
                "APPGEN_WARM_AGENTS": "4",  # appgen dev's default (the page window); test stacks turn it off
                **(env or {}),
            },
        )
        try:
            user = str(uuid.uuid4())
            spec: dict[str, Any] = json.loads(spec_path.read_text())
            spec["projectId"] = str(uuid.uuid4())
            token = mint_user_token(user, LOCAL_JWT_SECRET, 3600)
            with ApiClient(stack.api, token) as client, PeakRss(stack.process.pid) as memory:
                submitted = time.time()
                job_id = client.submit(spec)
                status = _finished(client, job_id)
                zip_path = client.download(job_id, root / f"{job_id}.zip")
                wall = time.time() - submitted
            first = min((r.received_at for r in model.requests), default=None)
            steps = _steps(stack.database, job_id, submitted, zip_path)
        finally:
            stack.stop()
    return JobRun(
        status["status"],
        wall,
        None if first is None else first - submitted,
        memory.peak_mib,
        zip_path,
        steps,
    )


def bare_build(zip_path: Path, root: Path) -> tuple[float, float]:
    """Seconds of a cold `npm install` and of `npm run build` of the ZIP, as its owner runs them."""
    app = Path(tempfile.mkdtemp(prefix="bare-", dir=root))
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(app)
    env = {**os.environ, "npm_config_cache": str(root / f"npm-cache-{uuid.uuid4().hex[:8]}")}
    env["NEXT_TELEMETRY_DISABLED"] = "1"
    started = time.perf_counter()
    subprocess.run(["npm", "install", *NPM_QUIET], cwd=app, env=env, check=True, capture_output=True)
    installed = time.perf_counter()
    subprocess.run(["npm", "run", "build"], cwd=app, env=env, check=True, capture_output=True)
    return installed - started, time.perf_counter() - installed


def _steps(dsn: str, job_id: str, submitted: float, zip_path: Path) -> list[Step]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select kind, key, created_at, started_at, finished_at from public.app_generation_tasks "
            "where job_id = %s and started_at is not null order by started_at",
            (job_id,),
        ).fetchall()
    peaks = _reported_peaks(zip_path)
    steps = []
    for kind, key, created, started, finished in rows:
        end: datetime = finished or started
        steps.append(
            Step(
                kind,
                key if kind not in ("validate", "package") else "",
                (started - created).total_seconds(),
                (end - started).total_seconds(),
                started.timestamp() - submitted,
                peaks.get((kind, key)),
            )
        )
    return steps


def _reported_peaks(zip_path: Path) -> dict[tuple[str, str], int]:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            report = json.loads(archive.read("appgen-report.json"))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return {}
    peaks = {}
    for step in report.get("steps", []):
        peak = (step.get("result") or {}).get("peakRssMiB")
        if isinstance(peak, int):
            peaks[(step["kind"], step["key"])] = peak
    return peaks


def _finished(client: ApiClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = client.status(job_id)
        if status["status"] in FINISHED:
            return status
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} did not finish within 600 s")
