"""`make demo`: start the local stack, submit the default example spec through the HTTP API, follow its
progress, download the ZIP through the signed URL and print where it is. Exit 0 on success.

A fresh user and project id are used each run, so the daily quota of one demo user is never in the way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPGEN = ROOT / ".venv" / "bin" / "appgen"
DEFAULT_SPEC = ROOT / "examples" / "specs" / "launchpad-saas.json"
READY = "appgen dev ready: "


def main() -> int:
    data_dir = Path(os.environ.get("APPGEN_DATA_DIR", ROOT / ".appgen"))
    out_dir = data_dir / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "demo-stack.log").open("w") as stack_log:
        stack = subprocess.Popen(
            [str(APPGEN), "dev", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=stack_log,
            text=True,
        )
    try:
        api = _wait_ready(stack)
        print(f"local stack ready at {api} (server log: {data_dir / 'demo-stack.log'})")
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


def _wait_ready(stack: subprocess.Popen[str], timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    assert stack.stdout is not None
    while time.monotonic() < deadline:
        line = stack.stdout.readline()
        if not line:
            raise SystemExit(f"the local stack exited early (code {stack.wait()}); see its log")
        if line.startswith(READY):
            return line.split("api=", 1)[1].split()[0]
    raise SystemExit("the local stack did not become ready in time")


if __name__ == "__main__":
    sys.exit(main())
