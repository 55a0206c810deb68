"""Running one child process to its end, a timeout or a cancel, and leaving nothing of it behind.

Agent sessions (`agents/runner.py`: the Gemini CLI) and the generated app's commands (`npm ci`,
`npm run build`, `npm run lint`, each in an `appgen.sandbox` box) both run through `supervise`:

- The child starts a new session, so it leads its own process group: a timeout or a cancel signals the
  whole group, which reaches everything it started (node under npm, `next build` under node), not just
  the child. SIGTERM first; whatever is left after a grace period, or outlives the leader, gets SIGKILL.
- The child dies with this process: it starts under `setpriv --pdeathsig KILL`, so the kernel SIGKILLs it
  when the thread that started it goes, and a SIGKILLed worker or `appgen dev` leaves no Gemini CLI or
  build behind (its own session keeps it out of the worker's process group, so nothing else would reach
  it). The signal follows the *thread*: `supervise` waits for its child in the thread that started it,
  and a child started ahead of its run (`start`, then `watch` in another thread: the parked agents of
  `agents/warm.py`) is started by a thread that lives as long as the process.
  Only the child is covered; what it starts is on its own (the Gemini CLI runs as one process, and a
  sandboxed command's whole pid namespace dies with its `bwrap`, see `appgen.sandbox`).
- Its environment is built from scratch (`environment`): nothing inherited but `PATH`, plus exactly what
  the caller adds, so database URLs, service keys and the model key of this process never reach it
  unless a caller hands one over on purpose.
- The caller's stop callback is polled while the child runs; asking to stop raises
  `StepFailed(code=ErrorCode.CANCELLED)`, running out of time raises `TimedOut` (each caller words its own timeout
  error). Either way the group is gone before the exception leaves `supervise`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from appgen.errors import StepFailed
from appgen.policy import ErrorCode

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class TimedOut(Exception):
    """The child ran past its time limit; its process group has been killed."""


def environment(values: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of a child: this process's PATH (so it finds node and npm) and `values`."""
    return {"PATH": os.environ.get("PATH", DEFAULT_PATH), **values}


def closed_parent(path: Path) -> Path | None:
    """The first directory above `path` that other users cannot enter (None when they can reach it): a
    child run as another user (the embedded database, a sandboxed build) cannot use `path` then."""
    for parent in path.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            return parent
    return None


def die_with_parent() -> list[str]:
    """The argv prefix that makes a command die when the thread that started it goes."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise StepFailed(
            "setpriv (util-linux) is not installed in the worker: `apt-get install util-linux`",
            code=ErrorCode.INTERNAL,
        )
    return [setpriv, "--pdeathsig", "KILL", "--"]


def supervise(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: IO[Any] | int,
    stdout: IO[Any] | int,
    stderr: IO[Any] | int,
    timeout_s: float,
    poll_s: float,
    grace_s: float,
    should_stop: Callable[[], bool] | None = None,
    pass_fds: Sequence[int] = (),
) -> int:
    """Run `argv` in its own process group until it exits (returns its exit code), `should_stop()` turns
    true (StepFailed "cancelled") or `timeout_s` passes (TimedOut), checking every `poll_s` seconds."""
    process = start(argv, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=pass_fds)
    return watch(process, timeout_s=timeout_s, poll_s=poll_s, grace_s=grace_s, should_stop=should_stop)


def start(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: IO[Any] | int,
    stdout: IO[Any] | int,
    stderr: IO[Any] | int,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, dying with the calling thread (see the module docstring). Hand it
    to `watch`; a caller that starts a child to watch it later must start it from a thread that lives as
    long as the process (`agents/warm.py`)."""
    return subprocess.Popen(
        [*die_with_parent(), *argv],
        cwd=cwd,
        env=dict(env),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )


def watch(
    process: subprocess.Popen[bytes],
    *,
    timeout_s: float,
    poll_s: float,
    grace_s: float,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Wait for a child of `start` as `supervise` does; its process group is gone when this returns or
    raises."""
    started = time.monotonic()
    try:
        while True:
            try:
                return process.wait(timeout=poll_s)
            except subprocess.TimeoutExpired:
                pass
            if should_stop is not None and should_stop():
                _kill_group(process, grace_s)
                raise StepFailed("the job was cancelled", code=ErrorCode.CANCELLED)
            if time.monotonic() - started > timeout_s:
                _kill_group(process, grace_s)
                raise TimedOut()
    finally:
        if process.poll() is None:
            _kill_group(process, grace_s)


def stop(process: subprocess.Popen[Any], grace_s: float) -> None:
    """End a child of `start` and its process group (SIGTERM, SIGKILL after `grace_s`)."""
    if process.poll() is None:
        _kill_group(process, grace_s)


def _kill_group(process: subprocess.Popen[Any], grace_s: float) -> None:
    """SIGTERM the process group, then SIGKILL what is left after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_s)
            if sig == signal.SIGTERM:
                # The leader exited; its children may not have: finish them too.
                os.killpg(process.pid, signal.SIGKILL)
            return
        except (subprocess.TimeoutExpired, ProcessLookupError):
            continue
