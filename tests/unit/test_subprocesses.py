"""`appgen.subprocesses` with real child processes: a timeout and a stop request each kill the child's
whole process group (a grandchild too, even one that ignores SIGTERM), a SIGKILLed parent takes its
child with it, and the environment holds only PATH and what the caller gave."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from appgen import subprocesses
from appgen.errors import StepFailed

# A child that starts a grandchild ignoring SIGTERM, writes its pid, then waits far longer than any test
# (with a second argument, ignoring SIGTERM itself: only the SIGKILL after the grace period stops it).
PARENT = """
import signal, subprocess, sys, time
if len(sys.argv) > 2:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
open(sys.argv[1], "w").write(str(grandchild.pid))
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _grandchild(pid_file: Path) -> int:
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the child never started its grandchild"
        time.sleep(0.05)
    return int(pid_file.read_text())


def _gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _supervise(
    argv: list[str],
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    stdout: IO[str] | int = subprocess.DEVNULL,
    timeout_s: float = 30.0,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    return subprocesses.supervise(
        argv,
        cwd=tmp_path,
        env=env if env is not None else subprocesses.environment({}),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        timeout_s=timeout_s,
        poll_s=0.1,
        grace_s=0.5,
        should_stop=should_stop,
    )


def test_an_exit_code_comes_back_as_it_is(tmp_path: Path) -> None:
    assert _supervise([sys.executable, "-c", "raise SystemExit(3)"], tmp_path) == 3
    assert _supervise([sys.executable, "-c", "pass"], tmp_path) == 0


@pytest.mark.parametrize("leader_ignores_sigterm", [False, True])
def test_a_timeout_kills_the_whole_group_including_a_grandchild_that_ignores_sigterm(
    tmp_path: Path, leader_ignores_sigterm: bool
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    argv = [sys.executable, "-c", PARENT, str(pid_file), *(["ignore"] if leader_ignores_sigterm else [])]
    started = time.monotonic()
    with pytest.raises(subprocesses.TimedOut):
        _supervise(argv, tmp_path, timeout_s=1.0)
    assert time.monotonic() - started < 10
    assert _gone(_grandchild(pid_file))


def test_a_stop_request_kills_the_whole_group_and_says_cancelled(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    with pytest.raises(StepFailed) as failed:
        _supervise(
            [sys.executable, "-c", PARENT, str(pid_file)],
            tmp_path,
            should_stop=lambda: pid_file.exists() and bool(pid_file.read_text()),
        )
    assert failed.value.code == "cancelled" and failed.value.message == "the job was cancelled"
    assert not failed.value.transient
    assert _gone(_grandchild(pid_file))


# A worker: it supervises a child that writes its pid and sleeps far longer than any test.
WORKER = """
import subprocess, sys
from pathlib import Path
from appgen import subprocesses
child = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"
subprocesses.supervise([sys.executable, "-c", child, sys.argv[1]], cwd=Path("."), env={}, stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout_s=120, poll_s=0.1, grace_s=0.5)
"""


def test_a_sigkilled_parent_takes_its_child_with_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(pid_file)], cwd=tmp_path)
    try:
        child = _grandchild(pid_file)
        assert _alive(child)
        # The child has its own session, so only the parent-death signal can reach it.
        assert os.getsid(child) != os.getsid(worker.pid)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert _gone(child), "the child outlived its SIGKILLed parent"


def test_the_environment_holds_only_path_and_what_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPGEN_DATABASE_URL", "postgresql://secret@db/appgen")
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    out = tmp_path / "env.txt"
    with out.open("w") as handle:
        code = _supervise(
            ["/usr/bin/env"], tmp_path, env=subprocesses.environment({"HOME": "/nowhere"}), stdout=handle
        )
    assert code == 0
    assert out.read_text().splitlines() == ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nowhere"]


def test_without_path_the_child_gets_the_standard_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATH")
    assert subprocesses.environment({"CI": "1"}) == {"PATH": subprocesses.DEFAULT_PATH, "CI": "1"}


def test_the_agents_package_imports_nothing_of_the_pipeline() -> None:
    """Agents run their CLI through `appgen.subprocesses`, as the pipeline's npm commands do; the agents
    package reaches nothing of the pipeline (the pipeline calls agents through `AgentRunner`)."""
    agents = Path(subprocesses.__file__).parent / "agents"
    imported = {
        (path.name, name) for path in sorted(agents.glob("*.py")) for name in _imported(path.read_text())
    }

    assert ("runner.py", "appgen.subprocesses") in imported
    assert not [(file, name) for file, name in imported if name.startswith("appgen.pipeline")]


def _imported(source: str) -> set[str]:
    """Every module a source file imports, `from a import b` counted as both `a` and `a.b`."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names
