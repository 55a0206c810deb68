"""Running the Google Cloud CLI (and the Supabase CLI) for the deploy.

Two kinds of calls, kept apart so a dry run is safe by construction:
- `read`: describe/list/get-iam-policy calls, never printed, answered from a cache for the rest of the
  run (the plan reads each list and policy once; a change updates the cached answer, see `remember`).
  A resource that does not exist (or whose API is not enabled yet) reads as None.
- `change`: create/update/delete calls, printed exactly as run; in a dry run only printed.

Commands never carry secret values (secrets are created empty; versions are added by the operator), so
printing them is always safe. Retries cover what a first deploy really meets: a new service account
that IAM does not know yet for a few seconds, and concurrent gcloud processes racing on a policy etag.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from appgen.errors import AppgenError

Command = tuple[str, ...]

# What gcloud says when the thing asked about is not there (or cannot be there yet: its API is off).
_ABSENT = re.compile(
    r"NOT_FOUND|not found|Cannot find|does not exist|SERVICE_DISABLED|has not been used in project|"
    r"is disabled|404",
    re.IGNORECASE,
)
# Answers worth retrying: IAM eventual consistency after creating a service account, etag races
# between two policy edits, and the CLI's own credential store under concurrent processes.
_TRANSIENT = re.compile(
    r"does not exist|concurrent policy changes|ABORTED|database is locked|UNAVAILABLE|503",
    re.IGNORECASE,
)
RETRY_DELAYS = (2.0, 4.0, 8.0, 16.0, 30.0)


class DeployError(AppgenError):
    """The deploy could not finish."""


class Runner:
    def __init__(
        self,
        *,
        cwd: Path,
        dry_run: bool,
        echo: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
        env: dict[str, str] | None = None,
    ):
        self.cwd = cwd
        self.dry_run = dry_run
        self._echo = echo
        self._sleep = sleep
        self._env = env
        self._cache: dict[Command, Any] = {}
        self._key_locks: dict[Command, threading.Lock] = {}
        self._lock = threading.Lock()
        self.changes: list[Command] = []

    # -- reads ------------------------------------------------------------------------------------------
    def read(self, argv: Sequence[str]) -> Any:
        """The JSON answer of a read-only gcloud command, None when what it reads does not exist."""

        def fetch() -> Any:
            result = self._run([*argv, "--format=json", "--quiet"], retry=True)
            if result.returncode == 0:
                return json.loads(result.stdout or "null")
            if _ABSENT.search(result.stderr):
                return None
            raise DeployError(f"`{shlex.join(argv)}` failed: {_tail(result.stderr)}")

        return self._cached(tuple(argv), fetch)

    def read_text(self, argv: Sequence[str]) -> str | None:
        """The output of a read-only command of another CLI (supabase), None when it fails."""

        def fetch() -> str | None:
            result = self._run(list(argv), retry=False)
            return result.stdout + result.stderr if result.returncode == 0 else None

        return self._cached(tuple(argv), fetch)

    def _cached(self, key: Command, fetch: Callable[[], Any]) -> Any:
        """One call per distinct read, even when several threads ask for it at once."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            value = fetch()
            with self._lock:
                self._cache[key] = value
            return value

    def remember(self, argv: Sequence[str], update: Callable[[Any], Any]) -> None:
        """Apply a change this run just made to the cached answer of `argv` (so it is not read again)."""
        key = tuple(argv)
        with self._lock:
            if key in self._cache:
                self._cache[key] = update(self._cache[key])

    def forget(self, argv: Sequence[str]) -> None:
        with self._lock:
            self._cache.pop(tuple(argv), None)

    # -- changes ----------------------------------------------------------------------------------------
    def change(self, argv: Command) -> None:
        """Run one create/update/delete command (print it only, in a dry run)."""
        line = shlex.join(argv)
        with self._lock:
            self.changes.append(argv)
        if self.dry_run:
            self._echo(line)
            return
        self._echo(f"  $ {line}")
        result = self._run(list(argv), retry=True)
        if result.returncode != 0:
            raise DeployError(f"`{line}` failed: {_tail(result.stderr)}")

    # -- process ----------------------------------------------------------------------------------------
    def _run(self, argv: list[str], *, retry: bool) -> subprocess.CompletedProcess[str]:
        env = None if self._env is None else {**os.environ, **self._env}
        delays = RETRY_DELAYS if retry else ()
        for attempt in range(len(delays) + 1):
            try:
                result = subprocess.run(
                    argv, cwd=self.cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
                )
            except FileNotFoundError:
                raise DeployError(f"`{argv[0]}` is not installed (or not on PATH)") from None
            if result.returncode == 0 or attempt == len(delays) or not _retryable(argv, result.stderr):
                return result
            self._sleep(delays[attempt])
        raise AssertionError("unreachable")


def _retryable(argv: list[str], stderr: str) -> bool:
    # "does not exist" is a propagation delay only for commands that name another principal; a read of
    # a missing resource says the same and must not wait.
    if "does not exist" in stderr and not any(a.startswith("--member=") for a in argv):
        return False
    return bool(_TRANSIENT.search(stderr))


def _tail(stderr: str, lines: int = 6) -> str:
    return "\n".join(stderr.strip().splitlines()[-lines:]) or "(no output)"
