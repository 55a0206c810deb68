"""The pipeline's guarantees end to end, on running `appgen dev` stacks with the real Gemini CLI against
the scripted double, real npm and real `next build`. Five jobs of three users run at once (each user may
run two), each scripted through its app title:

- "Octo app", 8 pages: its page agents run 4 at a time (seen by the double);
- "Fixable app": the integration agent breaks the build, fix round 1 repairs it -> completed;
- "Stubborn app": the fixer keeps the same error -> failed on the repeated signature, error in the logs;
- "Guarded app": a database layer, the Gemini key and an `npm-shrinkwrap.json` pinning a tarball that
  does not exist written into the app -> the ORM files removed, the ORM code sent to a fix round, the
  key scrubbed, the shrinkwrap removed (the install only ever uses the starter's protected files):
  none of it in the ZIP or the logs;
- "Unreachable app", on a second stack whose starter depends on a package the registry does not have
  (the only way an install can fail now that agents cannot change the dependencies) -> npm install
  fails -> completed_with_warnings.

The Gemini CLI refuses to let an agent edit `package.json` or `package-lock.json` ("Build File
Protection": denied in headless mode), and the validate step restores both from the starter anyway.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from appgen.agents.standin import FINAL_TEXT, GeminiStandIn, Reply, call, text
from appgen.auth import mint_user_token
from appgen.client import ApiClient
from appgen.pipeline.builder import INSTALL
from appgen.pipeline.install_cache import lock_key
from appgen.settings import LOCAL_JWT_SECRET, REPO_ROOT
from appgen.status import FINISHED
from tests.e2e.stack import INSTALL_CACHE, job_logs, start_stack
from tests.fixtures.double import asks, said
from tests.fixtures.specs import BROKEN_HOME_PAGE, fixed_home_page, small_spec
from tests.fixtures.starters import MISSING, STARTER, starter_copy
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.e2e

GEMINI_KEY = f"test-key-{uuid.uuid4().hex}"
WINDOW = 4
ORM_CODE = (
    'import { drizzle } from "drizzle-orm/node-postgres";\n\nexport const db = drizzle(process.env.DB!);\n'
)
IN_MEMORY = "export const users: string[] = [];\n"
JOB_TIMEOUT_S = 540.0
STARTER_MANIFEST = json.loads((STARTER / "package.json").read_text())

FIXED_PAGE = fixed_home_page("Welcome to Home. Fixed in round 1.")


# -- the double's scripts --------------------------------------------------------------------------------
def _unfetchable_shrinkwrap() -> str:
    """A shrinkwrap that resolves `next` from a tarball that does not exist (npm install: E404)."""
    lock = json.loads((STARTER / "package-lock.json").read_text())
    next_entry = dict(lock["packages"]["node_modules/next"])
    next_entry["resolved"] = f"https://registry.npmjs.org/{MISSING}/-/does-not-exist-1.0.0.tgz"
    next_entry["integrity"] = "sha512-" + "A" * 86 + "=="
    shrinkwrap = {
        "name": lock["name"],
        "version": lock.get("version", "0.1.0"),
        "lockfileVersion": 3,
        "requires": True,
        "packages": {"": lock["packages"][""], "node_modules/next": next_entry},
    }
    return json.dumps(shrinkwrap, indent=2) + "\n"


def _write(path: str, content: str) -> Reply:
    return call("write_file", {"file_path": path, "content": content})


@dataclass
class PageWindow:
    """Holds the Octo app's page-agent requests until `WINDOW` page agents have started (or 60 s), and
    records when each page's requests came and went: the overlap is the parallelism the pipeline used."""

    spans: dict[str, list[float]] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, body: dict[str, Any]) -> Reply | None:
        text_ = said(body)
        if '"Octo app"' not in text_ or "pageId: " not in text_:
            return None
        page_id = text_.split("pageId: ", 1)[1].split()[0]
        with self._cond:
            span = self.spans.setdefault(page_id, [time.monotonic(), 0.0])
            self._cond.notify_all()
            self._cond.wait_for(lambda: len(self.spans) >= WINDOW, timeout=60)
        time.sleep(0.5)
        with self._cond:
            span[1] = time.monotonic()
        return text(FINAL_TEXT)

    def max_concurrency(self) -> int:
        events = sorted((t, +1 if i == 0 else -1) for s in self.spans.values() for i, t in enumerate(s))
        running = peak = 0
        for _, step in events:
            running += step
            peak = max(peak, running)
        return peak


def _double(window: PageWindow) -> GeminiStandIn:
    double = GeminiStandIn(script=window)
    double.on(
        asks("Fixable app", "Task: integrate the app"), [_write("components/home/Page.tsx", BROKEN_HOME_PAGE)]
    )
    double.on(
        asks("Fixable app", "Task: fix the failing check"), [_write("components/home/Page.tsx", FIXED_PAGE)]
    )
    double.on(
        asks("Stubborn app", "Task: integrate the app"),
        [_write("components/home/Page.tsx", BROKEN_HOME_PAGE)],
    )
    double.on(
        asks("Stubborn app", "Task: fix the failing check"),
        [_write("components/home/Page.tsx", BROKEN_HOME_PAGE)],
    )
    double.on(
        asks("Guarded app", "Task: integrate the app"),
        [
            _write(
                "prisma/schema.prisma",
                'datasource db {\n  provider = "sqlite"\n}\nmodel User { id Int @id }\n',
            ),
            _write(
                "drizzle.config.ts",
                'import { defineConfig } from "drizzle-kit";\nexport default defineConfig({});\n',
            ),
            _write("lib/db.ts", ORM_CODE),
            _write("lib/gemini.ts", f'export const GEMINI_API_KEY = "{GEMINI_KEY}";\n'),
            _write("npm-shrinkwrap.json", _unfetchable_shrinkwrap()),
            text("Integrated, with a database."),
        ],
    )
    double.on(asks("Guarded app", "Task: fix the failing check"), [_write("lib/db.ts", IN_MEMORY)])
    return double


# -- one stack, five jobs --------------------------------------------------------------------------------
@dataclass
class Job:
    title: str
    status: dict[str, Any]
    logs: list[dict[str, Any]]
    archive: bytes | None

    @property
    def log_text(self) -> str:
        return "\n".join(entry["message"] for entry in self.logs)

    def files(self) -> dict[str, bytes]:
        assert self.archive is not None, self.status
        with zipfile.ZipFile(io.BytesIO(self.archive)) as zipped:
            return {name: zipped.read(name) for name in zipped.namelist()}

    def report(self) -> dict[str, Any]:
        return json.loads(self.files()["appgen-report.json"])

    def why(self) -> str:
        return f"{self.status}\n{self.log_text[-6000:]}"


@dataclass
class Run:
    jobs: dict[str, Job]
    broken_key: str  # the install cache key of the broken starter's lockfile
    double: GeminiStandIn
    window: PageWindow
    stack_log: str
    seconds: float


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    tmp = Path(tempfile.mkdtemp(prefix="appgen-test-pipeline-"))
    tmp.chmod(0o755)
    window = PageWindow()
    started = time.monotonic()
    with _double(window) as double:
        env = {
            "GOOGLE_GEMINI_BASE_URL": double.url,
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_MODEL": "gemini-2.5-flash",
            "APPGEN_NPM_CACHE": str(INSTALL_CACHE),
        }
        stack = start_stack(tmp / "data", env)
        broken_starter = starter_copy(tmp / "starter", missing_dependency=True)
        broken = start_stack(tmp / "broken", {**env, "APPGEN_STARTER_DIR": str(broken_starter)})
        try:
            plan = {  # title -> (stack, user, pages); two jobs per user run at once
                "Octo app": (stack, 0, 8),
                "Fixable app": (stack, 0, 1),
                "Stubborn app": (stack, 1, 1),
                "Guarded app": (stack, 1, 1),
                "Unreachable app": (broken, 2, 1),
            }
            tokens = [mint_user_token(uuid.uuid4(), LOCAL_JWT_SECRET) for _ in range(3)]
            ids = {}
            for title, (where, user, pages) in plan.items():
                spec = small_spec(pages=pages)
                spec["brief"]["title"] = title
                client = ApiClient(where.api, tokens[user])
                ids[title] = (client, client.submit(spec))
            jobs = _collect(ids, tmp)
            seconds = time.monotonic() - started
            print(
                f"\n{len(jobs)} jobs finished in {seconds:.0f} s: "
                + ", ".join(f"{t}={j.status['status']}" for t, j in jobs.items())
            )
            for client, _ in ids.values():
                client.close()
        finally:
            codes = (stack.stop(), broken.stop())
        assert codes == (0, 0), stack.log() + broken.log()
        broken_key = lock_key((broken_starter / "package-lock.json").read_bytes())
        yield Run(jobs, broken_key, double, window, stack.log() + broken.log(), seconds)
    if not os.environ.get("APPGEN_TEST_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)


def _collect(ids: dict[str, tuple[ApiClient, str]], tmp: Path) -> dict[str, Job]:
    statuses: dict[str, dict[str, Any]] = {}

    def all_finished() -> bool:
        for title, (client, job_id) in ids.items():
            if title not in statuses and (status := client.status(job_id))["status"] in FINISHED:
                statuses[title] = status
        return len(statuses) == len(ids)

    def unfinished() -> str:
        return "every job to finish; still going: " + ", ".join(t for t in ids if t not in statuses)

    wait_for(all_finished, JOB_TIMEOUT_S, unfinished, every=2)
    jobs = {}
    for title, (client, job_id) in ids.items():
        status = statuses[title]
        archive = None
        if status.get("artifact"):
            archive = client.download(job_id, tmp / f"{job_id}.zip").read_bytes()
        jobs[title] = Job(title, status, job_logs(client, job_id), archive)
    return jobs


# -- the tests ---------------------------------------------------------------------------------------------
def test_eight_pages_run_their_agents_four_at_a_time(run: Run) -> None:
    job = run.jobs["Octo app"]
    assert job.status["status"] == "completed", job.why()
    assert sorted(run.window.spans) == sorted(["home"] + [f"page-{i}" for i in range(1, 8)])
    assert run.window.max_concurrency() == WINDOW, run.window.spans

    report = job.report()
    assert [f["pageId"] for f in report["fidelity"]] == ["home"] + [f"page-{i}" for i in range(1, 8)]
    assert all(f["ok"] and f["textRatio"] == 1.0 for f in report["fidelity"]), report["fidelity"]
    assert [s["kind"] for s in report["steps"]] == ["scaffold"] + ["page"] * 8 + ["integrate", "validate"]
    assert all(s["status"] == "succeeded" for s in report["steps"])
    assert report["fixRounds"] == [] and report["warnings"] == []
    assert report["model"] == "gemini-2.5-flash"
    cli = json.loads(
        (REPO_ROOT / "worker_container/node_modules/@google/gemini-cli/package.json").read_text()
    )
    assert report["geminiCli"]["version"] == cli["version"]
    assert report["template"]["version"] == STARTER_MANIFEST["version"]
    assert len(report["specSha256"]) == 64
    page_tokens = [s["tokens"]["input"] for s in report["steps"] if s["kind"] == "page"]
    assert all(t > 0 for t in page_tokens)
    assert report["tokens"]["total"] == report["tokens"]["input"] + report["tokens"]["output"]
    assert report["tokens"]["input"] == sum(s["tokens"]["input"] for s in report["steps"])
    names = job.files()
    assert not [n for n in names if n.startswith(("node_modules/", ".next/", ".agent/", ".gemini/"))]
    assert "GEMINI.md" not in names


def test_a_broken_build_is_repaired_by_fix_round_one(run: Run) -> None:
    job = run.jobs["Fixable app"]
    assert job.status["status"] == "completed", job.why()
    assert job.status["progress"]["fixRound"] == 1
    assert job.files()["components/home/Page.tsx"].decode() == FIXED_PAGE

    report = job.report()
    assert len(report["fixRounds"]) == 1, report["fixRounds"]
    round_ = report["fixRounds"][0]
    assert round_["round"] == 1
    assert round_["failure"]["command"] == "npm run build"
    assert "components/home/Page.tsx" in round_["failure"]["output"]
    assert "+        <p>Welcome to Home. Fixed in round 1.</p>" in round_["diffSummary"]
    assert round_["validationAfter"] == "passed"
    assert round_["tokens"]["input"] > 0
    kinds = [(s["kind"], s["key"]) for s in report["steps"]]
    assert kinds[-3:] == [("validate", "0"), ("fix", "1"), ("validate", "1")]
    assert report["steps"][-3]["result"]["outcome"] == "failed"
    assert report["steps"][-1]["result"]["outcome"] == "passed"


def test_an_error_that_survives_the_fixer_fails_the_job_on_its_repeated_signature(run: Run) -> None:
    job = run.jobs["Stubborn app"]
    assert job.status["status"] == "failed", job.why()
    assert job.status["error"]["code"] == "build_failed"
    assert "The same build error repeated after 2 fix rounds" in job.status["error"]["message"]
    assert job.status["artifact"] is None and job.archive is None
    fix_prompts = {
        said(r.body)
        for r in run.double.requests
        if r.body and asks("Stubborn app", "Task: fix the failing check")(r.body)
    }
    assert {p.split("(round ", 1)[1].split()[0] for p in fix_prompts} == {"1", "2"}
    errors = [e for e in job.logs if e["level"] == "error"]
    assert errors and "`npm run build` failed" in errors[-1]["message"]
    assert "components/home/Page.tsx" in errors[-1]["message"]
    # Every round builds against the one install of the starter's lockfile.
    assert "node_modules: the starter's lockfile, installed once, from the install cache" in job.log_text


def test_a_database_layer_and_the_gemini_key_never_reach_the_zip_or_the_logs(run: Run) -> None:
    job = run.jobs["Guarded app"]
    assert job.status["status"] == "completed_with_warnings", job.why()
    assert {w["code"] for w in job.status["warnings"]} == {"guardrail_removed", "secret_scrubbed"}
    files = job.files()
    assert "prisma/schema.prisma" not in files and "drizzle.config.ts" not in files
    assert files["lib/db.ts"].decode() == IN_MEMORY
    assert files["lib/gemini.ts"] == b'export const GEMINI_API_KEY = "[REDACTED]";\n'
    assert not [name for name, data in files.items() if GEMINI_KEY.encode() in data]
    assert GEMINI_KEY not in job.log_text and GEMINI_KEY not in run.stack_log
    assert "prisma/schema.prisma" in job.log_text and "lib/gemini.ts" in job.log_text
    # The shrinkwrap would have replaced the lockfile: removed, said so, and the install never saw it.
    assert "npm-shrinkwrap.json" not in files
    assert (
        "restored the template's dependency files (agents cannot change the dependencies): "
        "npm-shrinkwrap.json" in job.log_text
    )
    assert files["package-lock.json"] == (STARTER / "package-lock.json").read_bytes()
    assert MISSING not in job.log_text

    report = job.report()
    guardrails = report["guardrails"]
    assert [g["round"] for g in guardrails] == [0]
    assert sorted(guardrails[0]["removed"]) == ["drizzle.config.ts", "prisma/schema.prisma"]
    assert guardrails[0]["restored"] == ["npm-shrinkwrap.json"]
    assert guardrails[0]["scrubbed"] == ["lib/gemini.ts"]
    # The ORM code itself went to the fixer, with the guard's reason as the failing output.
    [round_] = report["fixRounds"]
    assert round_["failure"]["command"] == "appgen guardrails"
    assert "./lib/db.ts: imports drizzle-orm" in round_["failure"]["output"]
    assert "removed files the plan forbids" in round_["failure"]["output"]
    assert round_["validationAfter"] == "passed"


def test_a_failing_npm_install_still_delivers_the_app_with_a_warning(run: Run) -> None:
    job = run.jobs["Unreachable app"]
    assert job.status["status"] == "completed_with_warnings", job.why()
    assert [w["code"] for w in job.status["warnings"]] == ["npm_install_failed"]
    assert f"`{' '.join(INSTALL)}` failed" in job.log_text
    assert "npm error 404" in job.log_text and MISSING in job.log_text
    assert not (INSTALL_CACHE / "trees" / run.broken_key).exists()  # a failed install publishes nothing
    files = job.files()
    assert MISSING in files["package.json"].decode()  # the app ships with its starter's dependencies
    report = job.report()
    assert report["steps"][-1]["result"]["outcome"] == "install_failed"
    assert report["warnings"][0]["code"] == "npm_install_failed"
    assert len(job.status["artifact"]["checksum"]) == 64
