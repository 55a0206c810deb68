"""Running `appgen dev` as a subprocess the way an operator does, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appgen.client import ApiClient
from appgen.settings import REPO_ROOT
from tests.fixtures.waiting import wait_for

APPGEN = REPO_ROOT / ".venv" / "bin" / "appgen"
READY = "appgen dev ready: "
# The install cache every e2e test shares (APPGEN_NPM_CACHE), kept between sessions: the starter's
# tree is installed once per machine. Under /tmp, so the sandbox's user can enter it.
INSTALL_CACHE = Path(tempfile.gettempdir()) / "appgen-test-install-cache"


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    api: str
    database: str
    log_path: Path
    data_dir: Path

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and the exit code; a stack that does not stop in time is killed (nothing outlives the
        test) and fails the test with its log, which ends with every thread's stack (`appgen dev`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_everything()
            raise AssertionError(
                f"appgen dev did not stop within {timeout} s:\n{self.log()[-20000:]}"
            ) from None
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()

    def kill_everything(self) -> None:
        """SIGKILL the stack's whole process group and its database, as a crash or an OOM kill would."""
        postmaster = self.data_dir / "pg" / "pgdata" / "postmaster.pid"
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            os.kill(int(postmaster.read_text().split()[0]), signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_stack(data_dir: Path, env: dict[str, str] | None = None, timeout: float = 120) -> RunningStack:
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("APPGEN_", "GEMINI_", "GOOGLE_GEMINI"))
    }
    # Screenshots cost 15-20 s per build; the tests of visual fidelity (test_fidelity_gate, the renderer's
    # own) ask for them, the stacks that test everything else do not.
    full_env["APPGEN_VISUAL_FIDELITY"] = "0"
    # Parked Gemini CLIs cost about 1.3 s of CPU each to start and 200 MB each to keep; the job test and the
    # benchmark run with them (appgen dev's default), the stacks that test everything else do not.
    full_env["APPGEN_WARM_AGENTS"] = "0"
    full_env.update(env or {})
    log_path = data_dir / "stack.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [str(APPGEN), "dev", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env=full_env,
            cwd=REPO_ROOT,
            start_new_session=True,  # its own process group, so a test can kill all of it at once
        )
    stdout = process.stdout
    assert stdout is not None

    def ready() -> dict[str, str] | None:
        """The fields of the ready line, once it has been printed (each call reads one line)."""
        line = stdout.readline()
        if not line:
            raise AssertionError(f"appgen dev exited with {process.wait()}:\n{log_path.read_text()}")
        if not line.startswith(READY):
            return None
        return dict(part.split("=", 1) for part in line[len(READY) :].split())

    try:
        fields = wait_for(ready, timeout, lambda: f"appgen dev to be ready:\n{log_path.read_text()}", every=0)
    except BaseException:
        process.kill()
        process.wait()
        stdout.close()
        raise
    return RunningStack(process, fields["api"], fields["database"], log_path, data_dir)


def job_logs(client: ApiClient, job_id: str) -> list[dict[str, Any]]:
    """Every log entry of a job, through the public API's pages."""
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.logs(job_id, after=after, limit=200)
        entries += page["logs"]
        if not page.get("nextCursor"):
            return entries
        after = page["nextCursor"]
