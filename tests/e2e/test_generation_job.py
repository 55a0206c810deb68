"""One generation job end to end, the way a frontend runs it: `appgen dev` as a subprocess, the real Gemini
CLI against the scripted double, real `npm install` and `next build`, the ZIP fetched through its signed
URL, unzipped, and built again by hand as its owner would."""

from __future__ import annotations

import stat
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from appgen.agents.standin import GeminiStandIn, call, text
from appgen.auth import mint_user_token
from appgen.client import ApiClient
from appgen.settings import LOCAL_JWT_SECRET
from tests.e2e.stack import INSTALL_CACHE, RunningStack, job_logs, start_stack
from tests.fixtures.specs import small_spec
from tests.fixtures.waiting import wait_until_finished

pytestmark = pytest.mark.e2e

AGENT_PAGE = """import Link from "next/link";

export default function Page() {
  return (
    <div data-appgen-page="home">
      <main>
        <h1>Home</h1>
        <p>Welcome to Home. Refined by the page agent.</p>
        <Link href="/">Home</Link>
      </main>
    </div>
  );
}
"""


@pytest.fixture
def double() -> Iterator[GeminiStandIn]:
    standin = GeminiStandIn()
    # The home page agent rewrites its component and also tries to write outside its files.
    standin.on(
        "pageId: home",
        [
            call("write_file", {"file_path": "components/home/Page.tsx", "content": AGENT_PAGE}),
            call("write_file", {"file_path": "lib/outside.ts", "content": "export const x = 1;\n"}),
            text("Refined the home page."),
        ],
    )
    with standin:
        yield standin


@pytest.fixture
def stack(open_tmp: Path, double: GeminiStandIn) -> Iterator[RunningStack]:
    running = start_stack(
        open_tmp / "data",
        {
            "GOOGLE_GEMINI_BASE_URL": double.url,
            "GEMINI_MODEL": "gemini-2.5-flash",
            "APPGEN_NPM_CACHE": str(INSTALL_CACHE),
            "APPGEN_WARM_AGENTS": "4",  # the page agents start from parked CLIs, as in appgen dev
        },
    )
    yield running
    assert running.stop() == 0, running.log()


def test_a_job_generates_builds_and_downloads_the_app(
    stack: RunningStack, double: GeminiStandIn, open_tmp: Path
) -> None:
    user = uuid.uuid4()
    client = ApiClient(stack.api, mint_user_token(user, LOCAL_JWT_SECRET))
    try:
        job_id = client.submit(small_spec(pages=2))
        status = wait_until_finished(client, job_id, 480)
        logs = "\n".join(entry["message"] for entry in job_logs(client, job_id))
        assert status["status"] == "completed", (status, logs, stack.log())
        assert status["progress"]["percent"] == 100
        assert status["artifact"]["sizeBytes"] > 0
        assert len(status["artifact"]["checksum"]) == 64

        # What the owner can read about the run.
        assert "page agent for home changed 1 file(s): components/home/Page.tsx" in logs
        assert "discarded changes outside the page's files: lib/outside.ts" in logs
        assert "`npm run build` passed" in logs
        assert "`npm run lint` passed" in logs
        assert "fidelity page-1: text 100.0%" in logs

        # Every agent ran through the real CLI against the double, with shell and web tools denied.
        prompts = [_first_user_text(r.body) for r in double.requests]
        assert any("pageId: home\n" in p for p in prompts)
        assert any("pageId: page-1\n" in p for p in prompts)
        assert any("Task: integrate the app" in p for p in prompts)
        declared = {
            f["name"]
            for r in double.requests
            for t in r.body.get("tools", [])
            for f in t.get("functionDeclarations", [])
        }
        assert "write_file" in declared
        assert declared.isdisjoint({"run_shell_command", "web_fetch", "google_web_search"})

        # The signed URL is the credential: it works without a token; tampered, it is refused.
        link = client.download_url(job_id)
        assert link["url"].startswith(stack.api)
        tampered = httpx.get(link["url"].replace("signature=", "signature=0"))
        assert tampered.status_code == 403, tampered.text
        archive = client.download(job_id, open_tmp / "app.zip")
    finally:
        client.close()

    app = open_tmp / "app"
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in zipped.infolist()}
        zipped.extractall(app)
    for required in ("package.json", "README.md", ".env.example", "run-app.sh", "run-app.bat", "Dockerfile"):
        assert required in names
    assert "app/page-1/page.tsx" in names
    assert "app/api/signup/route.ts" in names
    assert modes["run-app.sh"] & stat.S_IXUSR
    unshipped = [
        n
        for n in names
        if n.startswith(("node_modules/", ".next/", ".agent/")) or n in ("GEMINI.md", "lib/outside.ts")
    ]
    assert unshipped == []
    assert (app / "components/home/Page.tsx").read_text() == AGENT_PAGE

    # The owner's side: the unzipped app installs and builds on its own.
    (app / "run-app.sh").chmod(modes["run-app.sh"] & 0o777)
    for argv in (["npm", "install", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        done = subprocess.run(argv, cwd=app, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    built = (app / ".next/server/app/index.html").read_text()
    assert "Refined by the page agent" in built


def _first_user_text(body: dict[str, Any]) -> str:
    for content in body.get("contents", []):
        if content.get("role") == "user":
            return "\n".join(part.get("text", "") for part in content.get("parts", []))
    return ""
