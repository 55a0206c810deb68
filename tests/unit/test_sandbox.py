"""`appgen.sandbox` against hostile commands: each denial its docstring lists, proved by a command that
tries to get past it (and, where it could be a false pass, by the same command succeeding when allowed).

The hostile commands are shell and node one-liners: the box holds the system's /usr and nothing of the
worker, so they use what a build script could use."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from appgen import sandbox, subprocesses
from appgen.errors import ConfigError, StepFailed
from appgen.redact import register_secret
from appgen.sandbox import BASE_ENV, BOX_UID, Bind, Box, CommandResult
from appgen.settings import REPO_ROOT

AS_ROOT = os.geteuid() == 0


@pytest.fixture
def ws(open_tmp: Path) -> Path:
    path = open_tmp / "ws"
    path.mkdir()
    (path / "page.tsx").write_text("export default function Page() { return null; }\n")
    return path


def _box(ws: Path, *binds: Bind, network: bool = False) -> Box:
    return Box((Bind(ws, "/app", writable=True), *binds), cwd="/app", network=network)


def _sh(box: Box, script: str, timeout_s: float = 30) -> CommandResult:
    return box.run(["sh", "-c", script], timeout_s=timeout_s)


def _node(box: Box, script: str, timeout_s: float = 30) -> CommandResult:
    return box.run(["node", "-e", script], timeout_s=timeout_s)


# -- what it runs and what comes back ------------------------------------------------------------------
def test_a_command_runs_in_the_workspace_and_its_exit_code_and_redacted_output_come_back(ws: Path) -> None:
    register_secret("box-secret-value-4242")
    result = _sh(_box(ws), "cat page.tsx; echo 'token box-secret-value-4242' >&2; exit 3")
    assert result.exit_code == 3 and not result.ok
    assert "export default function Page()" in result.output
    assert "box-secret-value-4242" not in result.output and "[REDACTED]" in result.output
    assert result.argv == ("sh", "-c", "cat page.tsx; echo 'token box-secret-value-4242' >&2; exit 3")


def test_colour_codes_are_stripped(ws: Path) -> None:
    result = _sh(_box(ws), "printf '\\033[31mred\\033[0m\\n'; echo oops >&2; exit 2")
    assert (result.exit_code, result.output) == (2, "red\noops")


def test_a_timeout_fails_with_command_timeout_and_the_output_so_far(ws: Path) -> None:
    with pytest.raises(StepFailed) as failed:
        _box(ws).run(["sh", "-c", "echo started; sleep 30"], timeout_s=1.0)
    assert failed.value.code == "command_timeout" and not failed.value.transient
    assert failed.value.message == "`sh -c echo started; sleep 30` did not finish within 1 s\nstarted"


def test_a_program_the_box_lacks_is_an_internal_error_never_a_run_outside(ws: Path) -> None:
    with pytest.raises(StepFailed) as failed:
        _box(ws).run(["no-such-program-appgen"], timeout_s=30)
    assert failed.value.code == "internal"
    assert "the build sandbox could not start `no-such-program-appgen`" in failed.value.message


def test_the_start_up_check_starts_a_box_and_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.check()  # this machine can run boxes
    monkeypatch.setattr(sandbox.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(ConfigError) as failed:
        sandbox.check()
    assert failed.value.message.startswith("bwrap is not installed, so the build sandbox cannot run")
    assert "apt-get install bubblewrap" in failed.value.message


def test_a_bind_that_does_not_exist_is_refused_before_anything_runs(ws: Path, open_tmp: Path) -> None:
    with pytest.raises(StepFailed) as failed:
        _box(ws, Bind(open_tmp / "missing", "/deps")).run(["true"], timeout_s=30)
    assert failed.value.code == "internal" and "not a directory" in failed.value.message


@pytest.mark.skipif(not AS_ROOT, reason="only a root worker hands binds to another uid")
def test_a_bind_the_box_user_cannot_reach_is_refused_with_the_fix(open_tmp: Path) -> None:
    private = open_tmp / "private"
    (private / "ws").mkdir(parents=True)
    private.chmod(0o700)
    with pytest.raises(StepFailed) as failed:
        _box(private / "ws").run(["true"], timeout_s=30)
    assert failed.value.code == "internal"
    assert f"cannot enter {private}" in failed.value.message and "chmod o+x" in failed.value.message


# -- secrets ---------------------------------------------------------------------------------------------
def test_the_environment_holds_only_the_base_variables_and_bwrap_itself_holds_only_path(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPGEN_DATABASE_URL", "postgresql://postgres:db-secret-5150@127.0.0.1/appgen")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-secret-5151")
    script = (
        "env; echo ---; for f in /proc/[0-9]*/environ; do echo \"$f\"; tr '\\0' '\\n' < \"$f\"; done; "
        'echo ---; echo "ppid=$PPID"'
    )
    result = _sh(_box(ws), script)
    assert result.ok, result.output
    own, procs, _ = result.output.split("---")
    names = {line.split("=", 1)[0] for line in own.split()}
    assert set(BASE_ENV) <= names <= set(BASE_ENV) | {"PWD", "SHLVL", "_"}, names
    # /proc/1 is bwrap (the parent of the command's shell): it started with nothing but PATH.
    assert "/proc/1/environ\nPATH=" in procs
    pid1 = procs.split("/proc/1/environ\n", 1)[1].split("/proc/", 1)[0]
    assert [line.split("=", 1)[0] for line in pid1.split()] == ["PATH"]
    assert "secret-515" not in result.output


def test_nothing_of_the_host_is_visible_beyond_the_binds(ws: Path, open_tmp: Path) -> None:
    (open_tmp / "internal-secret").write_text("host-secret-6060")
    (open_tmp / "internal-secret").chmod(0o644)  # readable by anyone who can see it: only the box stops it
    listing = _sh(_box(ws), "ls -A /").output.split()
    assert sorted(listing) == ["app", "bin", "dev", "lib", "lib64", "proc", "sbin", "tmp", "usr"] or (
        {"app", "dev", "proc", "tmp", "usr"} <= set(listing) and "etc" not in listing
    ), listing
    script = f"cat {open_tmp}/internal-secret; ls /etc /root /home {REPO_ROOT}; cat /etc/passwd; ls /app"
    result = _sh(_box(ws), script)
    assert "host-secret-6060" not in result.output
    assert f"cat: {open_tmp}/internal-secret: No such file or directory" in result.output
    for path in ("/etc", "/root", "/home", str(REPO_ROOT)):
        assert f"ls: cannot access '{path}': No such file or directory" in result.output, result.output
    assert "cat: /etc/passwd: No such file or directory" in result.output
    assert result.output.endswith("page.tsx")


# -- files ------------------------------------------------------------------------------------------------
def test_read_only_dependencies_cannot_be_changed_and_the_root_cannot_be_written(
    ws: Path, open_tmp: Path
) -> None:
    deps = open_tmp / "deps"
    (deps / "next").mkdir(parents=True)
    (deps / "next" / "index.js").write_text("module.exports = 'clean';\n")
    for path in (deps, deps / "next", deps / "next" / "index.js"):  # only the read-only mount stops it
        path.chmod(0o777)
    box = _box(ws, Bind(deps, "/app/node_modules"))
    script = (
        "echo planted >> node_modules/next/index.js; echo planted > node_modules/planted.js; "
        "rm -f node_modules/next/index.js; mv node_modules/next node_modules/gone; "
        "echo x > /planted; echo x > /usr/planted; cat node_modules/next/index.js"
    )
    result = _sh(box, script)
    assert result.output.count("Read-only file system") == 6, result.output
    assert "module.exports = 'clean';" in result.output
    assert (deps / "next" / "index.js").read_text() == "module.exports = 'clean';\n"
    assert sorted(p.name for p in deps.iterdir()) == ["next"]


def test_tmp_is_private_and_nothing_written_outside_the_workspace_survives_the_box(ws: Path) -> None:
    marker = f"appgen-planted-{uuid.uuid4().hex}"
    first = _sh(
        _box(ws),
        f"echo x > /tmp/{marker} && echo x > /dev/shm/{marker} && echo x > /tmp/home/{marker} && echo wrote",
    )
    assert first.ok and "wrote" in first.output
    second = _sh(
        _box(ws), f"ls /tmp/{marker} /dev/shm/{marker} /tmp/home/{marker} 2>&1 | grep -c 'No such file'"
    )
    assert second.output.strip() == "3"
    assert not Path("/tmp", marker).exists() and not Path("/dev/shm", marker).exists()


def test_the_box_writes_its_workspace_as_its_own_uid(ws: Path) -> None:
    result = _sh(_box(ws), "id -u; id -G; echo built > out.txt; grep CapEff /proc/self/status")
    lines = result.output.split("\n")
    assert lines[0] == str(BOX_UID) and lines[1] == str(BOX_UID)
    assert lines[2].split() == ["CapEff:", "0000000000000000"]
    assert (ws / "out.txt").read_text() == "built\n"
    assert (ws / "out.txt").stat().st_uid == (BOX_UID if AS_ROOT else os.getuid())


def test_no_nested_user_namespace_so_no_way_to_regain_capabilities(ws: Path) -> None:
    result = _sh(_box(ws), "unshare --user --map-root-user id -u; echo exit=$?")
    assert "exit=0" not in result.output and "exit=" in result.output, result.output


# -- network -----------------------------------------------------------------------------------------------
@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port of the host, on loopback, that accepts connections (like the API and Postgres)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


CONNECT = """
const net = require("net");
const [host, port] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), timeout: 3000 });
s.on("connect", () => { console.log("connected"); s.destroy(); });
s.on("timeout", () => { console.log("timeout"); s.destroy(); });
s.on("error", (e) => console.log("refused " + e.code));
"""


def test_without_network_the_host_loopback_and_the_outside_are_unreachable(ws: Path, listener: int) -> None:
    box = _box(ws)
    local = box.run(["node", "-e", CONNECT, "127.0.0.1", str(listener)], timeout_s=30)
    assert local.output == "refused ECONNREFUSED", local.output  # its own empty loopback
    outside = box.run(["node", "-e", CONNECT, "1.1.1.1", "443"], timeout_s=30)
    assert outside.output == "refused ENETUNREACH", outside.output
    metadata = box.run(["node", "-e", CONNECT, "169.254.169.254", "80"], timeout_s=30)
    assert metadata.output == "refused ENETUNREACH", metadata.output
    dns = _node(
        box, 'require("dns").lookup("registry.npmjs.org", (e) => console.log(e ? e.code : "resolved"))'
    )
    assert dns.output in ("EAI_AGAIN", "ENOTFOUND"), dns.output


def test_a_box_given_the_network_does_reach_the_host(ws: Path, listener: int) -> None:
    """The control for the test above: the same command connects when the box shares the network."""
    result = _box(ws, network=True).run(["node", "-e", CONNECT, "127.0.0.1", str(listener)], timeout_s=30)
    assert result.output == "connected", result.output


# -- processes ---------------------------------------------------------------------------------------------
def test_the_box_sees_only_its_own_processes(ws: Path) -> None:
    result = _sh(_box(ws), "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done")
    lines = [line for line in result.output.split("\n") if line.strip()]
    assert 2 <= len(lines) <= 4, lines  # bwrap's init, the shell, its reader
    assert not [line for line in lines if "pytest" in line or "python" in line], lines


def _pids_with(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _wait_gone(marker: str, within_s: float = 5) -> None:
    deadline = time.monotonic() + within_s
    while _pids_with(marker):
        assert time.monotonic() < deadline, f"still running: {_pids_with(marker)}"
        time.sleep(0.05)


# A command that hides: a background process in a new session that ignores SIGTERM, then a wait.
def _stubborn(marker: str) -> list[str]:
    sleeper = f"node -e 'process.on(\"SIGTERM\", () => {{}}); setTimeout(() => {{}}, 300000)' {marker}"
    return ["sh", "-c", f"setsid {sleeper} & trap '' TERM; {sleeper}"]


def test_a_timeout_kills_every_process_of_the_box_even_one_that_left_its_session(ws: Path) -> None:
    marker = f"appgen-stubborn-{uuid.uuid4().hex}"
    with pytest.raises(StepFailed) as failed:
        _box(ws).run(_stubborn(marker), timeout_s=2)
    assert failed.value.code == "command_timeout"
    assert "did not finish within 2 s" in failed.value.message
    _wait_gone(marker)


def test_a_cancel_kills_every_process_of_the_box(ws: Path) -> None:
    marker = f"appgen-stubborn-{uuid.uuid4().hex}"
    with pytest.raises(StepFailed) as failed:
        _box(ws).run(_stubborn(marker), timeout_s=60, should_stop=lambda: len(_pids_with(marker)) >= 2)
    assert failed.value.code == "cancelled"
    _wait_gone(marker)


WORKER = """
import sys
from pathlib import Path
from appgen.sandbox import Bind, Box
ws, marker = sys.argv[1:]
Box((Bind(Path(ws), "/app", writable=True),), cwd="/app").run(
    ["sh", "-c", f"setsid node -e 'setTimeout(() => {{}}, 300000)' {marker} & sleep 300"], timeout_s=300)
"""


def test_a_sigkilled_worker_takes_the_whole_box_with_it(ws: Path) -> None:
    marker = f"appgen-orphan-{uuid.uuid4().hex}"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(ws), marker], cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 30
        while not _pids_with(marker):
            assert worker.poll() is None and time.monotonic() < deadline, "the box never started"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    _wait_gone(marker)


# -- a worker that is not root ------------------------------------------------------------------------------
NOT_ROOT_UID = 12345
NOT_ROOT = """
import json, os, sys
from pathlib import Path
from appgen import sandbox, subprocesses
from appgen.sandbox import Bind, Box
box = Box((Bind(Path(sys.argv[1]), "/app", writable=True),), cwd="/app")
script = "id -u; echo x > out.txt; tr '\\\\0' ' ' < /proc/1/environ; echo; ls /proc | grep -c '^[0-9]'"
result = box.run(["sh", "-c", script], timeout_s=30)
print(json.dumps({"isolated": sandbox.isolated_uid(), "describe": sandbox.describe(), "output": result.output}))
"""


@pytest.mark.skipif(not AS_ROOT, reason="the test drops to a non-root uid, which needs root")
def test_a_worker_that_is_not_root_still_boxes_but_its_uid_stays_the_workers_outside(ws: Path) -> None:
    """What happens, documented in the module: every denial holds, but the box's processes are the
    worker's uid outside their user namespace (inside they are 65534 without capabilities)."""
    sandbox.hand_over(ws, NOT_ROOT_UID)
    python = shutil.which("python3", path="/usr/bin:/bin")
    assert python is not None, "the system python3 runs the non-root worker (the venv's may be private)"
    argv = ["setpriv", f"--reuid={NOT_ROOT_UID}", f"--regid={NOT_ROOT_UID}", "--clear-groups", python, "-c"]
    done = subprocess.run(
        [*argv, NOT_ROOT, str(ws)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        cwd="/",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["isolated"] is False
    assert "the worker's uid (the worker is not root)" in report["describe"]
    uid, environ, processes = report["output"].split("\n")
    assert uid == str(BOX_UID)
    assert environ.split() == [f"PATH={subprocesses.DEFAULT_PATH}"]  # bwrap's, as for a root worker
    assert int(processes) <= 4
    assert (ws / "out.txt").stat().st_uid == NOT_ROOT_UID
