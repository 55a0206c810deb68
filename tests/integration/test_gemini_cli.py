"""The real Gemini CLI (the pinned one in worker_container/) run by `GeminiCliRunner` against the scripted
Gemini API stand-in: edits land in the workspace, usage is reported, the tool set and system prompt are
ours, API and CLI failures map to the right errors, timeouts, cancels and a SIGKILLed worker leave no
process behind, the environment holds no inherited secret, and prompts larger than one argv string arrive
whole."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appgen.agents.cli_config import DENIED_TOOLS, agent_env, cli_settings, policy_toml
from appgen.agents.runner import AgentResult, AgentTask, GeminiCliRunner
from appgen.agents.standin import GeminiStandIn, RecordedRequest, call, text
from appgen.errors import StepFailed
from appgen.settings import REPO_ROOT
from tests.fixtures.waiting import wait_for

GEMINI_BIN = REPO_ROOT / "worker_container" / "node_modules" / ".bin" / "gemini"
MODEL = "gemini-2.5-pro"
API_KEY = "test-gemini-key-7f3a9c"
SYSTEM_PROMPT = "You are the appgen page agent.\nSYSTEM-MARKER-4711: only edit the page's own files."


def installed_cli() -> Path:
    """The pinned CLI. Missing fails the test instead of skipping it, as a missing pg_prove does: a skip
    would let `make test` pass without ever having run an agent."""
    assert GEMINI_BIN.exists(), (
        f"the Gemini CLI is not installed at {GEMINI_BIN}: run `make deps` (npm ci in worker_container/)"
    )
    return GEMINI_BIN


@pytest.fixture
def standin() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    (path / "README.md").write_text("# app\n")
    return path


def make_runner(
    standin: GeminiStandIn, home_root: Path, max_attempts: int = 1, warm: int = 0
) -> GeminiCliRunner:
    return GeminiCliRunner(
        gemini_bin=installed_cli(),
        model=MODEL,
        api_key=API_KEY,
        base_url=standin.url,
        home_root=home_root,
        max_attempts=max_attempts,
        warm=warm,
    )


def parked_runner(standin: GeminiStandIn, home_root: Path, warm: int = 1) -> GeminiCliRunner:
    """A runner whose `warm` CLI processes are parked (started, not yet released) before it returns."""
    runner = make_runner(standin, home_root, warm=warm)
    runner.warm_up()
    wait_for(lambda: runner.parked() == warm, 30, f"{warm} parked agent(s)", every=0.05)
    return runner


def temp_dir_named(request: RecordedRequest) -> str:
    """The CLI home the session ran in, as the CLI names its temporary directory to the model."""
    body = json.dumps(request.body)
    match = re.search(r"temporary directory is: (\S+?)/\.gemini/tmp", body)
    assert match, body[:2000]
    return Path(match[1]).name


def make_task(
    workspace: Path,
    prompt: str = "Build the page.\npageId: home\n",
    *,
    timeout_s: float = 60.0,
    max_turns: int = 10,
    label: str = "page:home",
    should_stop: Callable[[], bool] = lambda: False,
) -> AgentTask:
    return AgentTask(workspace, prompt, SYSTEM_PROMPT, timeout_s, max_turns, label, should_stop)


def gemini_processes(home_root: Path) -> list[int]:
    """Live processes (not zombies) whose GEMINI_CLI_HOME lies under `home_root`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(v.startswith(f"GEMINI_CLI_HOME={home_root}".encode()) for v in environ):
            pids.append(int(entry.name))
    return pids


# -- a successful session ----------------------------------------------------------------------------


@dataclass
class Session:
    result: AgentResult
    requests: list[RecordedRequest]
    workspace: Path
    home_root: Path
    warm: bool


@pytest.fixture(scope="module", params=["cold", "warm"])
def session(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Session]:
    """One real run, shared by the tests that only look at what it did: write a file, then answer. Once
    started by the run ("cold"), once by a runner that had the CLI parked ahead of the run ("warm"):
    every test below holds for both."""
    warm = request.param == "warm"
    root = tmp_path_factory.mktemp("session")
    workspace = root / "ws"
    (workspace / ".gemini").mkdir(parents=True)  # a project config an earlier agent might have left
    (workspace / ".gemini" / "settings.json").write_text('{"tools": {"core": ["run_shell_command"]}}')
    with GeminiStandIn() as standin:
        standin.on(
            "pageId: home",
            [
                call("write_file", {"file_path": str(workspace / "hello.txt"), "content": "hi"}),
                text("Wrote it."),
            ],
        )
        runner = parked_runner(standin, root / "homes") if warm else make_runner(standin, root / "homes")
        try:
            result = runner.run(make_task(workspace))
        finally:
            runner.close()
        yield Session(result, list(standin.requests), workspace, root / "homes", warm)


def test_a_warm_runner_runs_the_parked_process(session: Session) -> None:
    home = temp_dir_named(session.requests[0])
    assert home.startswith("warm-" if session.warm else "page-home-"), home


def test_the_agent_edits_the_workspace_and_reports_its_answer_and_usage(session: Session) -> None:
    assert (session.workspace / "hello.txt").read_text() == "hi"
    assert session.result.response == "Wrote it."
    assert session.result.exit_code == 0
    assert [(r.path, r.status) for r in session.requests] == [
        (f"/v1beta/models/{MODEL}:streamGenerateContent", 200)
    ] * 2
    assert session.result.usage.input_tokens == sum(r.prompt_tokens for r in session.requests)
    assert session.result.usage.output_tokens == sum(r.output_tokens for r in session.requests)
    assert session.result.usage.input_tokens > 0 and session.result.duration_s > 0


def test_the_model_is_offered_the_file_tools_and_none_that_reach_outside(session: Session) -> None:
    for request in session.requests:
        tools = set(request.tool_names)
        assert {"write_file", "replace", "read_file", "list_directory", "glob", "grep_search"} <= tools
        assert not tools & set(DENIED_TOOLS), tools & set(DENIED_TOOLS)


def test_the_system_prompt_replaces_the_builtin_one(session: Session) -> None:
    for request in session.requests:
        assert request.system_text.strip() == SYSTEM_PROMPT
    assert session.requests[0].headers["x-goog-api-key"] == API_KEY


def test_the_run_leaves_no_home_and_no_project_config(session: Session) -> None:
    assert list(session.home_root.iterdir()) == []  # the warm runner's refill ended with close()
    assert not (session.workspace / ".gemini").exists()
    assert gemini_processes(session.home_root) == []


# -- large prompts and concurrent sessions -----------------------------------------------------------


def test_a_prompt_larger_than_one_argv_string_arrives_whole(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path
) -> None:
    lines = [
        f"line {i:05d}: the hero section keeps its gradient and its three call-to-action buttons"
        for i in range(2400)
    ]
    prompt = "pageId: big\n" + "\n".join(lines) + "\nEND-OF-PROMPT"
    assert len(prompt.encode()) > 200_000 > 131_072  # MAX_ARG_STRLEN

    make_runner(standin, tmp_path / "homes").run(make_task(workspace, prompt))

    first = standin.requests[0].body
    assert first is not None
    user_text = "\n".join(
        p.get("text", "") for c in first["contents"] if c["role"] == "user" for p in c["parts"]
    )
    assert prompt in user_text


def test_concurrent_sessions_each_follow_their_own_script(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path
) -> None:
    for page in ("home", "about"):
        standin.on(
            f"pageId: {page}",
            [call("write_file", {"file_path": str(workspace / f"{page}.txt"), "content": page}), text(page)],
        )
    runner = make_runner(standin, tmp_path / "homes")
    results: dict[str, AgentResult] = {}

    def run(page: str) -> None:
        results[page] = runner.run(make_task(workspace, f"Build.\npageId: {page}\n", label=f"page:{page}"))

    threads = [threading.Thread(target=run, args=(page,)) for page in ("home", "about")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {page: r.response for page, r in results.items()} == {"home": "home", "about": "about"}
    assert (workspace / "home.txt").read_text() == "home"
    assert (workspace / "about.txt").read_text() == "about"


# -- failures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(400, "model_rejected"), (401, "agent_auth")])
def test_a_rejected_request_fails_at_once_and_is_not_transient(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path, status: int, code: str
) -> None:
    standin.fail_next(status, times=10)

    with pytest.raises(StepFailed) as failed:
        make_runner(standin, tmp_path / "homes", max_attempts=3).run(make_task(workspace))

    assert (failed.value.code, failed.value.transient) == (code, False)
    assert f"HTTP {status}" in failed.value.message and f"stand-in fault {status}" in failed.value.message
    assert API_KEY not in failed.value.message
    assert [r.status for r in standin.requests] == [status]


def test_a_persistent_quota_error_is_retried_briefly_then_fails_as_transient(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path
) -> None:
    standin.fail_next(429, times=100)
    started = time.monotonic()

    with pytest.raises(StepFailed) as failed:
        make_runner(standin, tmp_path / "homes", max_attempts=2).run(make_task(workspace))

    assert (failed.value.code, failed.value.transient) == ("agent_quota", True)
    assert "HTTP 429" in failed.value.message
    assert [r.status for r in standin.requests] == [429, 429]  # one retry (after ~5 s), then it gives up
    assert time.monotonic() - started < 20


def test_a_server_error_fails_as_transient_model_unavailable(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path
) -> None:
    standin.fail_next(503, times=100)

    with pytest.raises(StepFailed) as failed:
        make_runner(standin, tmp_path / "homes").run(make_task(workspace))

    assert (failed.value.code, failed.value.transient) == ("model_unavailable", True)
    assert [r.status for r in standin.requests] == [503]


def test_an_unreachable_api_fails_as_transient_model_unavailable(workspace: Path, tmp_path: Path) -> None:
    runner = GeminiCliRunner(
        gemini_bin=installed_cli(),
        model=MODEL,
        api_key=API_KEY,
        base_url="http://127.0.0.1:9",  # the discard port: nothing listens, connections are refused
        home_root=tmp_path / "homes",
        max_attempts=1,
    )

    with pytest.raises(StepFailed) as failed:
        runner.run(make_task(workspace))

    assert (failed.value.code, failed.value.transient) == ("model_unavailable", True)
    assert "could not be reached" in failed.value.message


def test_an_agent_at_its_turn_limit_keeps_its_edits(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path
) -> None:
    # An agent that writes, then keeps looking around until its turns run out (the CLI exits 53).
    standin.script = [call("write_file", {"file_path": str(workspace / "page.tsx"), "content": "edited"})]
    standin.script += [call("list_directory", {"dir_path": str(workspace)})] * 10

    result = make_runner(standin, tmp_path / "homes").run(make_task(workspace, max_turns=2))

    assert (result.turn_limit, result.exit_code) == (True, 53)
    assert (workspace / "page.tsx").read_text() == "edited"
    assert len(standin.requests) == 2
    assert gemini_processes(tmp_path / "homes") == []


# -- timeouts, cancels and the environment -----------------------------------------------------------


@pytest.mark.parametrize("warm", [0, 1])
def test_a_timeout_kills_the_whole_process_group(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path, warm: int
) -> None:
    standin.delay_s = 60
    home_root = tmp_path / "homes"
    runner = parked_runner(standin, home_root) if warm else make_runner(standin, home_root)
    started = time.monotonic()

    try:
        with pytest.raises(StepFailed) as failed:
            runner.run(make_task(workspace, timeout_s=4.0))
        elapsed = time.monotonic() - started
    finally:
        runner.close()  # and the process parked after the run
    assert failed.value.code == "timeout" and not failed.value.transient
    assert "the page:home agent did not finish within 4 s" in failed.value.message
    assert 4.0 <= elapsed < 4.0 + 4.0
    assert gemini_processes(home_root) == []
    assert list(home_root.iterdir()) == []


@pytest.mark.parametrize("warm", [0, 1])
def test_a_cancel_kills_the_agent_quickly_and_it_never_saw_inherited_secrets(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: int
) -> None:
    monkeypatch.setenv("APPGEN_DATABASE_URL", "postgres://appgen:db-secret-991@db/appgen")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-role-secret-992")
    standin.delay_s = 60
    home_root = tmp_path / "homes"
    runner = parked_runner(standin, home_root) if warm else make_runner(standin, home_root)
    seen: dict[int, bytes] = {}
    stopped_at: list[float] = []

    def should_stop() -> bool:
        if not standin.requests:  # the CLI has not reached the model yet
            return False
        for pid in gemini_processes(home_root):
            seen[pid] = Path(f"/proc/{pid}/environ").read_bytes()
        stopped_at.append(time.monotonic())
        return True

    try:
        with pytest.raises(StepFailed) as failed:
            runner.run(make_task(workspace, should_stop=should_stop))
        assert failed.value.code == "cancelled"
        assert time.monotonic() - stopped_at[0] < 3.0
    finally:
        runner.close()  # and the process parked after the run
    assert gemini_processes(home_root) == []
    assert len(seen) == 1, seen  # one node process: the CLI did not relaunch itself
    [environ] = seen.values()
    names = {item.split(b"=", 1)[0].decode() for item in environ.split(b"\0") if item}
    assert names == set(agent_env(tmp_path, api_key=API_KEY, base_url=standin.url))
    assert b"db-secret-991" not in environ and b"service-role-secret-992" not in environ


# A worker process running one agent session, as the worker's task thread does; with `warm` > 0 its
# runner first parks that many CLI processes, and the session takes one of them.
WORKER = """
import sys, time
from pathlib import Path
from appgen.agents.runner import AgentTask, GeminiCliRunner
bin_, url, homes, ws, warm = sys.argv[1:]
runner = GeminiCliRunner(
    gemini_bin=Path(bin_), model="m", api_key="k", base_url=url, home_root=Path(homes), warm=int(warm)
)
runner.warm_up()
while runner.parked() < int(warm):
    time.sleep(0.05)
runner.run(AgentTask(Path(ws), "pageId: home", "system", 120.0, 5, "page:home"))
"""


@pytest.mark.parametrize("warm", [0, 2])
def test_a_sigkilled_worker_leaves_no_gemini_process_behind(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path, warm: int
) -> None:
    """With `warm` 2 one CLI process is running the session and one is parked when the worker dies."""
    standin.delay_s = 60  # the CLI waits for its first answer
    home_root = tmp_path / "homes"
    argv = [sys.executable, "-c", WORKER, str(installed_cli()), standin.url, str(home_root), str(workspace)]
    worker = subprocess.Popen([*argv, str(warm)], cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (standin.requests and len(gemini_processes(home_root)) == max(1, warm)):
            assert worker.poll() is None and time.monotonic() < deadline, "the agent never started"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    deadline = time.monotonic() + 5
    while gemini_processes(home_root):
        assert time.monotonic() < deadline, f"left behind: {gemini_processes(home_root)}"
        time.sleep(0.1)


def test_closing_a_warm_runner_ends_its_parked_processes_and_removes_their_homes(
    standin: GeminiStandIn, tmp_path: Path
) -> None:
    home_root = tmp_path / "homes"
    runner = parked_runner(standin, home_root, warm=2)
    assert len(gemini_processes(home_root)) == 2
    assert len(list(home_root.iterdir())) == 2

    runner.close()

    assert gemini_processes(home_root) == []
    assert list(home_root.iterdir()) == []
    assert standin.requests == []  # a parked process never reached the model


def test_a_parked_process_that_died_is_skipped(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path
) -> None:
    standin.on("pageId: home", [call("write_file", {"file_path": str(workspace / "a.txt"), "content": "a"})])
    home_root = tmp_path / "homes"
    runner = parked_runner(standin, home_root)
    [pid] = gemini_processes(home_root)
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    [dead_home] = [v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"GEMINI_CLI_HOME=")]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: has_exited(pid), 10, "the parked process to die")

    try:
        result = runner.run(make_task(workspace))
    finally:
        runner.close()

    assert result.exit_code == 0 and (workspace / "a.txt").read_text() == "a"
    assert temp_dir_named(standin.requests[0]) != Path(dead_home).name
    assert list(home_root.iterdir()) == []


def has_exited(child: int) -> bool:
    """True once a child of this process has exited, all its threads included, without reaping it (a
    killed node's main thread is a zombie in /proc while its other threads still exit)."""
    return os.waitid(os.P_PID, child, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def test_the_environment_is_built_from_scratch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("APPGEN_DATABASE_URL", "postgres://appgen:db-secret-991@db/appgen")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/secrets/sa.json")
    monkeypatch.setenv("PATH", "/opt/node/bin:/usr/bin")

    env = agent_env(tmp_path, api_key="k-1", base_url="http://127.0.0.1:9")

    assert env["PATH"] == "/opt/node/bin:/usr/bin"
    assert env["HOME"] == env["GEMINI_CLI_HOME"] == str(tmp_path)
    assert (env["GEMINI_API_KEY"], env["GOOGLE_GEMINI_BASE_URL"]) == ("k-1", "http://127.0.0.1:9")
    assert env["GEMINI_SYSTEM_MD"] == str(tmp_path / "system.md")
    assert "APPGEN_DATABASE_URL" not in env and "GOOGLE_APPLICATION_CREDENTIALS" not in env
    assert "GOOGLE_GEMINI_BASE_URL" not in agent_env(tmp_path, api_key="k-1", base_url=None)


def test_settings_and_policy_confine_the_cli() -> None:
    settings = cli_settings(max_turns=25, max_attempts=40)

    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["model"]["maxSessionTurns"] == 25
    assert settings["general"]["maxAttempts"] == 10  # the CLI's own ceiling
    assert settings["telemetry"]["enabled"] is False
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert settings["general"]["enableAutoUpdate"] is False
    assert settings["general"]["checkpointing"]["enabled"] is False
    policy = policy_toml()
    assert 'decision = "deny"' in policy
    assert all(json.dumps(name) in policy for name in ("run_shell_command", "web_fetch", "google_web_search"))


def test_a_missing_binary_is_an_internal_error(
    standin: GeminiStandIn, workspace: Path, tmp_path: Path
) -> None:
    runner = GeminiCliRunner(
        gemini_bin=tmp_path / "nope", model=MODEL, api_key=API_KEY, base_url=standin.url, home_root=tmp_path
    )

    with pytest.raises(StepFailed, match="not installed") as failed:
        runner.run(make_task(workspace))

    assert failed.value.code == "internal"
    assert API_KEY not in repr(runner)
