"""`make demo`: start the local stack, submit the default example spec through the HTTP API, follow its
progress, download the ZIP through the signed URL and print where it is. Exit 0 on success. While it
runs, the /build reference frontend is served by the same stack (its URL is printed).

A fresh user and project id are used each run, so the daily quota of one demo user is never in the way.
When the stack cannot start, the demo prints the stack's own reason. Run as root from a clone under a
directory other users cannot enter (a 0700 home), the embedded PostgreSQL's `postgres` user could not
reach `.appgen/`: the demo then keeps its data under /var/tmp instead and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from appgen.subprocesses import closed_parent

ROOT = Path(__file__).resolve().parent.parent
APPGEN = ROOT / ".venv" / "bin" / "appgen"
DEFAULT_SPEC = ROOT / "examples" / "specs" / "launchpad-saas.json"
READY = "appgen dev ready: "


def main() -> int:
    data_dir = _data_dir()
    out_dir = data_dir / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "demo-stack.log"
    with log_path.open("w") as stack_log:
        stack = subprocess.Popen(
            [str(APPGEN), "dev", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=stack_log,
            text=True,
        )
    try:
        api = _wait_ready(stack, log_path)
        print(f"local stack ready at {api} (server log: {log_path})")
        print(
            f"the /build frontend: {api}/build/ (development sign-in; up while the demo runs, or `make dev`)"
        )
        user = str(uuid.uuid4())
        token = subprocess.run(
            [str(APPGEN), "token", "--user", user], check=True, capture_output=True, text=True
        ).stdout.strip()
        spec = json.loads(DEFAULT_SPEC.read_text())
        spec["projectId"] = str(uuid.uuid4())
        spec_file = out_dir / "spec.json"
        spec_file.write_text(json.dumps(spec))
        zip_path = out_dir / f"{spec['projectId']}.zip"
        print(f"submitting {DEFAULT_SPEC.relative_to(ROOT)} as user {user}")
        result = subprocess.run(
            [
                str(APPGEN),
                "submit",
                str(spec_file),
                "--wait",
                "-o",
                str(zip_path),
                "--api",
                api,
                "--token",
                token,
            ],
            check=False,
        )
        if result.returncode != 0 or not zip_path.is_file():
            print("demo failed: the job did not complete (see the lines above)", file=sys.stderr)
            return 1
        print(f"ZIP downloaded: {zip_path}")
        return 0
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.kill()


def _data_dir() -> Path:
    """APPGEN_DATA_DIR, else `.appgen` in the clone, unless root runs the demo from a clone that the
    embedded PostgreSQL's `postgres` user cannot reach: then a directory of this clone under /var/tmp."""
    if os.environ.get("APPGEN_DATA_DIR"):
        return Path(os.environ["APPGEN_DATA_DIR"])
    default = ROOT / ".appgen"
    closed = closed_parent(default) if os.geteuid() == 0 else None  # ROOT and every directory above
    if closed is None:
        return default
    other = Path("/var/tmp") / f"appgen-demo-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
    other.mkdir(mode=0o755, exist_ok=True)
    info = other.lstat()  # /var/tmp is everyone's: use only a real directory of root's, not a planted one
    if not os.path.isdir(other) or other.is_symlink() or info.st_uid != 0 or info.st_mode & 0o022:
        raise SystemExit(f"{other} is not a directory only root can write: remove it or set APPGEN_DATA_DIR")
    print(
        f"the embedded PostgreSQL runs as the `postgres` user, which cannot enter {closed}: keeping the "
        f"local stack's data in {other} instead (set APPGEN_DATA_DIR to choose another)"
    )
    return other


def _wait_ready(stack: subprocess.Popen[str], log_path: Path, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    assert stack.stdout is not None
    while time.monotonic() < deadline:
        line = stack.stdout.readline()
        if not line:
            code = stack.wait()
            raise SystemExit(
                f"the local stack could not start (exit code {code}): {stack_reason(log_path.read_text())}\n"
                f"(its whole log: {log_path})"
            )
        if line.startswith(READY):
            return line.split("api=", 1)[1].split()[0]
    raise SystemExit(f"the local stack did not become ready in {timeout:.0f} s; its log: {log_path}")


def stack_reason(log: str) -> str:
    """Why `appgen dev` stopped, from its stderr: its own `Error: …` line (click prints the reason of a
    ConfigError that way), else the last line of a traceback, else the last line it wrote."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line.removeprefix("Error: ")
    return lines[-1] if lines else "it wrote nothing"


if __name__ == "__main__":
    sys.exit(main())
