"""Gemini CLI processes started ahead of their runs ("parked"), so an agent's run skips most of the CLI's
start-up.

Most of that start-up is loading the CLI's modules (on Node 20 about 1.3 s of CPU: compiling and
evaluating some 40 MB of bundled JavaScript), which needs neither the workspace nor the prompt. A parked
process has done it: `park.mjs`, loaded with `node --import`, imports the CLI's modules and then waits on
a pipe for the runner's go before any of the CLI's own code runs. Measured against @google/gemini-cli
0.61.0, a released process sends its first model request about 0.3 s after the go instead of 1.5-2 s
after a spawn; four at once on 2 cores, seconds sooner.

A parked process is confined exactly like a cold one (`cli_config.py`), because it is one:

- It is spawned with the runner's argv and `agent_env` for its own fresh home (nothing inherited but
  `PATH`), in its own session, under `setpriv --pdeathsig KILL` from this module's thread, which lives
  until `close()`: a SIGKILLed worker leaves no parked process behind either.
- Until the go it runs nothing but module evaluation, in its empty home, with stdin the home's still
  empty `prompt.md`. Checked with strace against 0.61.0: before the go it opens only the CLI's own files,
  system libraries and `/etc/resolv.conf`, and never reads stdin or anything in its home.
- The runner then writes the home (settings, tool policy, system prompt, prompt: `prepare_home`) and
  sends the go, `{"cwd": <workspace>}`: from there on it is a cold run, and the runner watches it as one
  (timeout, cancel, process group). The home is removed after the run as always.
- End of file on the pipe instead of a go (the pool closed, the worker died) makes it exit at once.

The pool refills after a run ends, not when a process is taken, so the replacements do not compete for
CPU with the agents that are just starting. It starts on its first use (`start`), in the process that
uses it: the Functions Framework imports the worker before gunicorn forks, and a pool started there
would hold processes the serving process cannot wait for.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appgen import subprocesses

log = logging.getLogger(__name__)

PARK_SCRIPT = Path(__file__).with_name("park.mjs")
STOP_GRACE_SECONDS = 2.0


@dataclass
class Parked:
    """One parked CLI process, its home, and the write end of its go pipe."""

    process: subprocess.Popen[bytes]
    home: Path
    go_fd: int

    def alive(self) -> bool:
        return self.process.poll() is None

    def release(self, workspace: Path) -> bool:
        """Let the CLI run in `workspace` (its home must be written first); False when it is gone."""
        try:
            os.write(self.go_fd, (json.dumps({"cwd": str(workspace)}) + "\n").encode())
        except BrokenPipeError:
            return False
        finally:
            self._close_pipe()
        return True

    def discard(self) -> None:
        """End the process (if still running) and remove its home."""
        self._close_pipe()
        subprocesses.stop(self.process, STOP_GRACE_SECONDS)
        shutil.rmtree(self.home, ignore_errors=True)

    def _close_pipe(self) -> None:
        if self.go_fd >= 0:
            os.close(self.go_fd)
            self.go_fd = -1


def park(home: Path, env: dict[str, str], gemini_js: Path, args: list[str]) -> Parked:
    """Start `node --import park.mjs?fd=N gemini.js args…` in the fresh `home` that `env` names: the CLI,
    parked until a go arrives on fd N. Call it from the thread that lives as long as the pool."""
    node = shutil.which("node", path=env["PATH"])
    if node is None:
        raise RuntimeError("node is not on PATH")
    (home / "tmp").mkdir(parents=True)
    home.chmod(0o700)
    (home / "prompt.md").touch()  # its stdin: written before the go, read only after it
    go_read, go_write = os.pipe()
    try:
        with (
            (home / "prompt.md").open("rb") as stdin,
            (home / "stdout").open("wb") as out,
            (home / "stderr").open("wb") as err,
        ):
            process = subprocesses.start(
                [node, "--import", f"{PARK_SCRIPT.as_uri()}?fd={go_read}", str(gemini_js), *args],
                cwd=home,
                env=env,
                stdin=stdin,
                stdout=out,
                stderr=err,
                pass_fds=(go_read,),
            )
    except BaseException:
        os.close(go_write)
        shutil.rmtree(home, ignore_errors=True)
        raise
    finally:
        os.close(go_read)
    return Parked(process, home, go_write)


class WarmAgents:
    """Keeps up to `size` parked processes that `launch` starts; `take` hands one out (or None)."""

    def __init__(self, size: int, launch: Callable[[], Parked]):
        self.size = size
        self._launch = launch
        self._ready: list[Parked] = []
        self._owed = 0  # launches asked for and not yet begun
        self._launching = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False

    def start(self) -> None:
        """Start filling the pool (once per process; later calls do nothing)."""
        with self._cond:
            if self._closed or (self._thread is not None and self._pid == os.getpid()):
                return
            # In a forked child the parent's thread and processes are not ours: start afresh.
            self._ready, self._owed, self._launching, self._pid = [], self.size, 0, os.getpid()
            self._thread = threading.Thread(target=self._fill, name="warm-agents", daemon=True)
            self._thread.start()

    def ready(self) -> int:
        """How many processes are parked now (some may still be loading the CLI's modules)."""
        with self._cond:
            return len(self._ready)

    def take(self) -> Parked | None:
        """A parked process still alive, or None when there is none ready."""
        dead: list[Parked] = []
        taken = None
        with self._cond:
            while self._ready and taken is None:
                parked = self._ready.pop(0)
                if parked.alive():
                    taken = parked
                else:
                    dead.append(parked)
            if dead:
                self._ask()
        for parked in dead:
            log.warning(
                "a parked agent exited with %s before its run",
                parked.process.returncode,
                extra={"action": "agent.park_lost"},
            )
            parked.discard()
        return taken

    def refill(self) -> None:
        """Ask for launches until the pool is full again (after a run, never while agents start)."""
        with self._cond:
            self._ask()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            ready, self._ready = self._ready, []
            self._cond.notify_all()
        for parked in ready:
            parked.discard()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _ask(self) -> None:
        """Caller holds the lock: owe the launches that fill the pool, no more."""
        self._owed = max(0, self.size - len(self._ready) - self._launching)
        self._cond.notify_all()

    def _fill(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._owed <= 0:
                    self._cond.wait()
                if self._closed:
                    return
                self._owed -= 1
                self._launching += 1
            try:
                parked: Parked | None = self._launch()
            except Exception as exc:  # a broken install must not stop the worker: its agents start cold
                log.warning("could not park an agent: %s", exc, extra={"action": "agent.park_failed"})
                parked = None
            with self._cond:
                self._launching -= 1
                if parked is not None and not self._closed:
                    self._ready.append(parked)
                    continue
            if parked is not None:
                parked.discard()
                return
