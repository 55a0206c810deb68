"""Running the generated app's own commands (`npm install`, `npm run build`, `npm run lint`).

They run under `appgen.subprocesses`: with an environment built from scratch that holds no secret (no
database URL, no model key, no service tokens), in their own process group so a timeout or a cancel kills
everything they started. Their output is redacted and trimmed before it is stored anywhere.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appgen import subprocesses
from appgen.errors import StepFailed
from appgen.policy import ErrorCode
from appgen.redact import redact

MAX_OUTPUT_CHARS = 12_000
POLL_SECONDS = 1.0
KILL_GRACE_SECONDS = 5.0
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int
    output: str  # stdout and stderr interleaved, redacted, trimmed to what matters
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def display(self) -> str:
        return " ".join(self.argv)


def clean_env(home: Path, npm_cache: Path | None) -> dict[str, str]:
    """The whole environment of a validation command: nothing inherited but PATH."""
    values = {
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CI": "1",
        "NEXT_TELEMETRY_DISABLED": "1",
        "NO_UPDATE_NOTIFIER": "1",
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_loglevel": "warn",
    }
    if npm_cache is not None:
        values["npm_config_cache"] = str(npm_cache)
    return subprocesses.environment(values)


def run_command(
    argv: list[str],
    cwd: Path,
    *,
    timeout_s: float,
    npm_cache: Path | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> CommandResult:
    """Run one command to completion, a timeout or a cancel (polled every second)."""
    executable = shutil.which(argv[0])
    if executable is None:
        raise StepFailed(f"{argv[0]} is not installed in the worker", code=ErrorCode.INTERNAL)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="appgen-home-") as home, tempfile.TemporaryFile("w+") as out:
        try:
            exit_code = subprocesses.supervise(
                [executable, *argv[1:]],
                cwd=cwd,
                env=clean_env(Path(home), npm_cache),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout_s=timeout_s,
                poll_s=POLL_SECONDS,
                grace_s=KILL_GRACE_SECONDS,
                should_stop=should_stop,
            )
        except subprocesses.TimedOut:
            out.seek(0)
            tail = trim_output(out.read())
            raise StepFailed(
                f"`{' '.join(argv)}` did not finish within {int(timeout_s)} s\n{tail}",
                code=ErrorCode.COMMAND_TIMEOUT,
            ) from None
        out.seek(0)
        output = trim_output(out.read())
    return CommandResult(tuple(argv), exit_code, output, time.monotonic() - started)


def trim_output(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Redacted output without colour codes, keeping the head and the end (where errors are)."""
    text = redact(_ANSI.sub("", text)).strip()
    if len(text) <= limit:
        return text
    head = limit // 4
    return text[:head] + f"\n… [{len(text) - limit} characters omitted] …\n" + text[-(limit - head) :]


def error_signature(output: str) -> str:
    """A stable fingerprint of a failure: its error lines with volatile parts (numbers, hashes, paths
    of temporary directories, timings) removed. The same error in two rounds gives the same signature."""
    lines = [
        line for line in output.splitlines() if re.search(r"(?i)\berror\b|failed to compile|TS\d{4}", line)
    ]
    normalized = [
        re.sub(r"\d+(\.\d+)?\s*m?s\b|/tmp/\S+|\b[0-9a-f]{8,}\b|\d+", "#", line).strip() for line in lines[:20]
    ]
    return hashlib.sha256("\n".join(normalized).encode()).hexdigest()[:16]
