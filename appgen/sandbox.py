"""Running one command in a box: the only way appgen executes code an agent may have written.

`npm run build`, `npm run lint`, anything that serves or prerenders the built app, and `npm install`
run through `Box.run`. A box is a bubblewrap (`bwrap`) sandbox: new user, mount, pid, network, ipc, uts
and cgroup namespaces, with a root file system that holds only what the caller binds. What the box
denies, each proved by a hostile command in tests/unit/test_sandbox.py:

- **Files**: it sees the system's `/usr` (read-only; `/bin`, `/lib…` as links into it), a private
  `/tmp` tmpfs, fresh `/proc` and `/dev`, and exactly the caller's binds: the job's workspace writable,
  installed dependencies read-only. No `/etc`, no home, no data dir, no other job, no npm cache (unless
  bound). The root is read-only; `/tmp` and `/dev/shm` vanish with the box, so nothing it writes outside
  its binds survives it.
- **Secrets**: its environment is `BASE_ENV` plus the caller's additions (never a secret), and `bwrap`
  itself starts with nothing but `PATH`: inside the box `/proc/1` is `bwrap`, so whatever `bwrap`
  inherited would be readable at `/proc/1/environ`.
- **Network**: none (only a loopback of its own) unless the caller asks for it (`npm install`, which runs
  nothing an agent wrote).
- **Identity**: a uid other than the worker's. A worker running as root starts the box as `BOX_UID`
  (65534, `nobody`) through `setpriv`; writable binds are handed to that uid first. A worker that is not
  root cannot change uid: the box's processes then keep the worker's uid *outside* their user namespace
  (inside they are 65534 with no capabilities, and everything above still holds; `isolated_uid()` says
  which case applies, and the validate step logs it). No capabilities, `no_new_privs`, no nested user
  namespaces, a new session (no terminal to inject input into).
- **Processes**: it sees only its own (pid namespace), and they all die with it: `--die-with-parent`, so a
  timeout, a cancel or a SIGKILLed worker kills `bwrap`, whose pid namespace takes every process along.

A bind whose source the box's user cannot reach, a missing `bwrap` or a kernel without unprivileged user
namespaces fail the step with an internal error that says so (the worker checks the last two when it
starts, `check`); nothing ever falls back to running unsandboxed. Output comes back redacted and trimmed (`CommandResult`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from appgen import subprocesses
from appgen.errors import ConfigError, StepFailed
from appgen.policy import ErrorCode
from appgen.redact import redact

BOX_UID = 65534
BOX_PATH = "/usr/local/bin:/usr/bin:/bin"
BASE_ENV = {
    "PATH": BOX_PATH,
    "HOME": "/tmp/home",
    "LANG": "C.UTF-8",
    "CI": "1",
    "NEXT_TELEMETRY_DISABLED": "1",
    "NO_UPDATE_NOTIFIER": "1",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
    "npm_config_loglevel": "warn",
    "npm_config_cache": "/tmp/npm-cache",
}
TMP_SIZE_BYTES = 1024 * 1024 * 1024
MAX_OUTPUT_CHARS = 12_000
POLL_SECONDS = 1.0
KILL_GRACE_SECONDS = 5.0
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Read-only for the installing box only: name resolution and the registry's TLS certificates.
NETWORK_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates")


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


@dataclass(frozen=True)
class Bind:
    """A host directory the box sees at `target` (an absolute path inside the box)."""

    source: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class Box:
    """What one sandboxed command sees: its binds, its working directory, whether it has network, and
    environment variables beyond `BASE_ENV` (settings for the command, never a secret)."""

    binds: tuple[Bind, ...] = ()
    cwd: str = "/"
    network: bool = False
    env: Mapping[str, str] = field(default_factory=dict)

    def run(
        self, argv: Sequence[str], *, timeout_s: float, should_stop: Callable[[], bool] | None = None
    ) -> CommandResult:
        """Run `argv` in the box to completion (its exit code), a timeout (StepFailed command_timeout) or
        a cancel (StepFailed cancelled); the cancel callback is polled every second."""
        self._prepare()
        started = time.monotonic()
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as status:
            try:
                subprocesses.supervise(
                    [*self._command(status.fileno()), "--", *argv],
                    cwd=Path("/"),
                    env={"PATH": subprocesses.DEFAULT_PATH},  # all `bwrap` has: its /proc/1/environ
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout_s=timeout_s,
                    poll_s=POLL_SECONDS,
                    grace_s=KILL_GRACE_SECONDS,
                    should_stop=should_stop,
                    pass_fds=(status.fileno(),),
                )
            except subprocesses.TimedOut:
                out.seek(0)
                raise StepFailed(
                    f"`{' '.join(argv)}` did not finish within {int(timeout_s)} s\n{trim_output(out.read())}",
                    code=ErrorCode.COMMAND_TIMEOUT,
                ) from None
            out.seek(0)
            output = out.read()
            status.seek(0)
            exit_code = _exit_code(status.read())
        if exit_code is None:  # bwrap never ran the command: the box itself could not be set up
            raise StepFailed(
                f"the build sandbox could not start `{' '.join(argv)}`: {trim_output(output)}",
                code=ErrorCode.INTERNAL,
            )
        return CommandResult(tuple(argv), exit_code, trim_output(output), time.monotonic() - started)

    def _prepare(self) -> None:
        """Root starts the box as BOX_UID, which must reach every bind and own the writable ones."""
        for bind in self.binds:
            if not bind.source.is_dir():
                raise StepFailed(
                    f"the build sandbox cannot bind {bind.source}: not a directory", code=ErrorCode.INTERNAL
                )
            if os.geteuid() != 0:
                continue
            closed = subprocesses.closed_parent(bind.source)
            if closed is not None:
                raise StepFailed(
                    f"the build sandbox runs as uid {BOX_UID}, which cannot enter {closed}: put the work "
                    f"and cache directories under a world-searchable path or `chmod o+x {closed}`",
                    code=ErrorCode.INTERNAL,
                )
            if bind.writable:
                hand_over(bind.source, BOX_UID)

    def _command(self, status_fd: int) -> list[str]:
        command = [_tool("bwrap"), "--json-status-fd", str(status_fd)]
        if os.geteuid() == 0:
            command = [
                _tool("setpriv"),
                f"--reuid={BOX_UID}",
                f"--regid={BOX_UID}",
                "--clear-groups",
                "--pdeathsig=KILL",  # the uid change cleared the one `supervise` set
                *command,
            ]
        command += ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(BOX_UID)]
        command += ["--gid", str(BOX_UID), "--die-with-parent", "--new-session", "--hostname", "box"]
        if self.network:
            command.append("--share-net")
        view, node_bin = _system_view()
        command += view
        if self.network:
            for path in NETWORK_FILES:
                command += ["--ro-bind-try", os.path.realpath(path), path]
        command += ["--size", str(TMP_SIZE_BYTES), "--tmpfs", "/tmp", "--dir", "/tmp/home"]
        for bind in self.binds:
            command += ["--bind" if bind.writable else "--ro-bind", str(bind.source), bind.target]
        command += ["--remount-ro", "/", "--chdir", self.cwd, "--clearenv"]
        path = BOX_PATH if node_bin is None else f"{node_bin}:{BOX_PATH}"
        for name, value in {**BASE_ENV, "PATH": path, **self.env}.items():
            command += ["--setenv", name, value]
        return command


def check() -> None:
    """Start one box now: the worker's start-up check, so a missing `bwrap` or a kernel without user
    namespaces stops the start with the reason instead of failing every validate step later."""
    try:
        Box().run(["true"], timeout_s=60)
    except StepFailed as exc:
        raise ConfigError(exc.message) from None


def isolated_uid() -> bool:
    """True when boxes run under a uid other than the worker's (the worker is root)."""
    return os.geteuid() == 0


def describe() -> str:
    """How boxes run on this worker, for the logs."""
    who = f"uid {BOX_UID}" if isolated_uid() else "the worker's uid (the worker is not root)"
    return f"sandbox: {who}, own namespaces, no secrets"


def hand_over(root: Path, uid: int) -> None:
    """Make `uid` the owner of everything under `root` (links themselves, never what they point to)."""
    os.lchown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)


def trim_output(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Redacted output without colour codes, keeping the head and the end (where errors are)."""
    text = redact(_ANSI.sub("", text)).strip()
    if len(text) <= limit:
        return text
    head = limit // 4
    return text[:head] + f"\n… [{len(text) - limit} characters omitted] …\n" + text[-(limit - head) :]


def _system_view() -> tuple[list[str], str | None]:
    """Read-only system directories, fresh /proc and /dev, and node wherever it is installed (with the
    directory to put first on PATH when that is outside /usr)."""
    view = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            view += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            view += ["--ro-bind", str(path), str(path)]
    view += ["--proc", "/proc", "--dev", "/dev"]
    node = shutil.which("node", path=subprocesses.DEFAULT_PATH) or shutil.which("node")
    if node is None or Path(node).resolve().is_relative_to("/usr"):
        return view, None
    prefix = Path(node).resolve().parent.parent  # e.g. ~/.nvm/versions/node/v20.x
    return [*view, "--ro-bind", str(prefix), str(prefix)], str(Path(node).parent)


def _tool(name: str) -> str:
    path = shutil.which(name, path=subprocesses.DEFAULT_PATH) or shutil.which(name)
    if path is None:
        package = "bubblewrap" if name == "bwrap" else "util-linux"
        raise StepFailed(
            f"{name} is not installed, so the build sandbox cannot run: `apt-get install {package}` "
            "(`make deps` does this)",
            code=ErrorCode.INTERNAL,
        )
    return path


def _exit_code(status: str) -> int | None:
    """The command's exit code from bwrap's JSON status lines; None when it never ran."""
    for line in status.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("exit-code"), int):
            return int(value["exit-code"])
    return None
