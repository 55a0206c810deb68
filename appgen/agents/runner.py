"""Running one Gemini CLI agent session in a workspace, headless, to completion, a timeout or a cancel.

`AgentRunner` is the interface the pipeline uses; `GeminiCliRunner` runs the real `gemini` binary (pinned
in `worker_container/package.json`). Tests and the offline local stack point it at `GeminiStandIn`.

How a session is confined (verified against @google/gemini-cli 0.61.0):

- Each run gets a fresh CLI home (removed afterwards) with the settings, the tool policy and the system
  prompt of `cli_config.py`, and an environment built from scratch that holds nothing of this process
  but `PATH`; a `.gemini/` directory in the workspace is deleted before and after each run.
- The CLI runs under `appgen.subprocesses`: in its own process group, so a timeout or a cancel kills
  every process it started.
- The prompt goes through stdin (a file, so it is readable at once: the CLI waits only 500 ms for piped
  input) and the CLI puts it before the `-p` text. One argv string may not exceed 128 KB on Linux
  (MAX_ARG_STRLEN) and prompts reach a few hundred KB.
- With `warm` > 0 a run takes a CLI process started ahead of it, its modules already loaded (`warm.py`):
  the same argv, environment, home and stdin file, released into the workspace once the home is written.
  Without one ready, the run starts the CLI itself.

Retries: the CLI retries 429 and 5xx answers itself, starting at 5 s and doubling up to 30 s, for up to
`general.maxAttempts` attempts (default 10, i.e. minutes). The runner sets it to `max_attempts` (default
3: at most ~15 s of waiting) so a persistent quota or outage surfaces quickly as a transient `StepFailed`
and the pipeline's own backoff (20/60/180 s) takes over. A quota error whose body names a retry delay is
waited out by the CLI, and daily quotas fail at once. Network failures ("fetch failed") are retried the
same way (`general.retryFetchErrors`).

Exit codes: 0 success, 1 API or other error (the JSON output carries `error.message`), 41 auth, 42 input,
52 config, 53 turn limit, 54 tool execution, 55 untrusted folder, 130 cancelled. The turn limit is not a
failure: the agent stopped early, and what it wrote so far is the step's result (`AgentResult.turn_limit`;
the step adds a warning), as it would be had the agent simply said it was done.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from appgen import subprocesses
from appgen.agents.cli_config import agent_env, prepare_home, remove_project_config
from appgen.agents.warm import Parked, WarmAgents, park
from appgen.errors import StepFailed
from appgen.policy import ErrorCode
from appgen.redact import REDACTED, redact

POLL_SECONDS = 0.5
KILL_GRACE_SECONDS = 2.0
PROMPT_SUFFIX = "Carry out the task above."
CLI_FLAGS = ("--approval-mode", "yolo", "--skip-trust", "--output-format", "json")
TURN_LIMIT_EXIT = 53
_EXIT_CODES = {
    41: (ErrorCode.AGENT_AUTH, "the Gemini CLI could not authenticate"),
    42: (ErrorCode.AGENT_INPUT, "the Gemini CLI rejected its input"),
    52: (ErrorCode.AGENT_CONFIG, "the Gemini CLI configuration is not valid"),
    54: (ErrorCode.AGENT_TOOL_ERROR, "a tool call of the agent failed"),
    55: (ErrorCode.AGENT_UNTRUSTED_FOLDER, "the Gemini CLI does not trust the workspace"),
}
_NOISE = re.compile(r"^\s+at |^[\s{}()\[\],]*$|256-color|YOLO mode is enabled|Ripgrep is not available")
_REPORT = re.compile(r" ?Full report available at: \S+")  # inside the per-run home, gone afterwards
_STATUS = re.compile(r"^\s*status: ([45]\d\d)\b", re.MULTILINE)  # how node prints an ApiError


@dataclass(frozen=True)
class AgentUsage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class AgentResult:
    response: str
    usage: AgentUsage
    exit_code: int
    duration_s: float
    turn_limit: bool = False  # the session ended at its turn limit; its edits stand


@dataclass
class AgentTask:
    workspace: Path
    prompt: str
    system_prompt: str
    timeout_s: float
    max_turns: int
    label: str
    should_stop: Callable[[], bool] = field(default=lambda: False)


class AgentRunner(Protocol):
    def run(self, task: AgentTask) -> AgentResult: ...


class GeminiCliRunner:
    def __init__(
        self,
        *,
        gemini_bin: Path,
        model: str,
        api_key: str,
        base_url: str | None,
        home_root: Path,
        max_attempts: int = 3,
        warm: int = 0,
    ):
        self.gemini_bin = gemini_bin
        self.model = model
        self.base_url = base_url
        self.home_root = home_root
        self.max_attempts = max_attempts
        self._api_key = api_key
        self._warm = WarmAgents(warm, self._park) if warm > 0 else None

    def __repr__(self) -> str:  # never show the key
        return f"GeminiCliRunner(model={self.model!r}, base_url={self.base_url!r})"

    def warm_up(self) -> None:
        """Start parking CLI processes now rather than at the first run (the local stack's start)."""
        if self._warm is not None:
            self._warm.start()

    def parked(self) -> int:
        """How many CLI processes are parked for the next runs."""
        return self._warm.ready() if self._warm is not None else 0

    def close(self) -> None:
        """End the parked processes."""
        if self._warm is not None:
            self._warm.close()

    def run(self, task: AgentTask) -> AgentResult:
        if not self.gemini_bin.exists():
            raise StepFailed(f"the Gemini CLI is not installed at {self.gemini_bin}", code=ErrorCode.INTERNAL)
        self.home_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        parked = None
        if self._warm is not None:
            self._warm.start()
            parked = self._warm.take()
        home = parked.home if parked is not None else self._new_home(task.label)
        remove_project_config(task.workspace)
        try:
            prepare_home(
                home,
                prompt=task.prompt,
                system_prompt=task.system_prompt,
                max_turns=task.max_turns,
                max_attempts=self.max_attempts,
            )
            return self._run_in(home, task, parked)
        finally:
            if parked is not None:
                parked.discard()
            shutil.rmtree(home, ignore_errors=True)
            remove_project_config(task.workspace)
            if self._warm is not None:
                self._warm.refill()

    def _new_home(self, label: str) -> Path:
        return self.home_root / f"{re.sub(r'[^A-Za-z0-9_.-]', '-', label)[:40]}-{uuid.uuid4().hex[:8]}"

    def _args(self) -> list[str]:
        return ["-p", PROMPT_SUFFIX, "-m", self.model, *CLI_FLAGS]

    def _park(self) -> Parked:
        """A CLI process for the next run, parked in a fresh home until `Parked.release` (`warm.py`)."""
        if not self.gemini_bin.exists():
            raise RuntimeError(f"the Gemini CLI is not installed at {self.gemini_bin}")
        self.home_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        home = self._new_home("warm")
        env = agent_env(home, api_key=self._api_key, base_url=self.base_url)
        return park(home, env, self.gemini_bin.resolve(), self._args())

    def _run_in(self, home: Path, task: AgentTask, parked: Parked | None) -> AgentResult:
        started = time.monotonic()
        try:
            if parked is not None and parked.release(task.workspace):
                exit_code = subprocesses.watch(
                    parked.process,
                    timeout_s=task.timeout_s,
                    poll_s=POLL_SECONDS,
                    grace_s=KILL_GRACE_SECONDS,
                    should_stop=task.should_stop,
                )
            else:  # none was ready, or it died before its go
                exit_code = self._run_cold(home, task)
        except subprocesses.TimedOut:
            tail = self._tail(_read(home / "stderr"))
            message = f"the {task.label} agent did not finish within {task.timeout_s:g} s"
            raise StepFailed(message + (f"\n{tail}" if tail else ""), code=ErrorCode.TIMEOUT) from None
        stdout, stderr = _read(home / "stdout"), _read(home / "stderr")
        duration = time.monotonic() - started
        output, before = _split_json(stdout)
        if not output:  # on failure the CLI writes its JSON document to stderr, after its log lines
            output, stderr = _split_json(stderr)
        error = output.get("error") if isinstance(output.get("error"), dict) else None
        if exit_code == TURN_LIMIT_EXIT:
            # The CLI reports no stats then: the session's tokens are unknown, counted as 0.
            return AgentResult(str(output.get("response") or ""), _usage(output), exit_code, duration, True)
        if exit_code != 0 or error is not None:
            raise self._failure(task, exit_code, error, before + stderr)
        return AgentResult(str(output.get("response") or ""), _usage(output), exit_code, duration)

    def _run_cold(self, home: Path, task: AgentTask) -> int:
        with (
            (home / "prompt.md").open("rb") as stdin,
            (home / "stdout").open("wb") as out,
            (home / "stderr").open("wb") as err,
        ):
            return subprocesses.supervise(
                [str(self.gemini_bin), *self._args()],
                cwd=task.workspace,
                env=agent_env(home, api_key=self._api_key, base_url=self.base_url),
                stdin=stdin,
                stdout=out,
                stderr=err,
                timeout_s=task.timeout_s,
                poll_s=POLL_SECONDS,
                grace_s=KILL_GRACE_SECONDS,
                should_stop=task.should_stop,
            )

    def _failure(self, task: AgentTask, exit_code: int, error: dict[str, Any] | None, log: str) -> StepFailed:
        """Exit codes 41…55 are the CLI's own; an API error exits with its HTTP status (mod 256) and
        names it in `error.code`."""
        message = str((error or {}).get("message") or "").strip()
        code, what = _EXIT_CODES.get(exit_code, (ErrorCode.AGENT_FAILED, "the Gemini CLI failed"))
        status = _http_status(error, log)
        if exit_code not in _EXIT_CODES and status is not None:
            what = f"the Gemini API answered HTTP {status}"
            if status == 429:
                code = ErrorCode.AGENT_QUOTA
            elif status >= 500:
                code = ErrorCode.MODEL_UNAVAILABLE
            elif status in (401, 403):
                code = ErrorCode.AGENT_AUTH
            else:
                code = ErrorCode.MODEL_REJECTED
        elif exit_code not in _EXIT_CODES and "fetch failed" in f"{message}\n{log}":
            code, what = ErrorCode.MODEL_UNAVAILABLE, "the Gemini API could not be reached"
        lines = [
            f"the {task.label} agent failed: {what} (exit {exit_code})",
            self._clean(message),
            self._tail(log),
        ]
        return StepFailed("\n".join(line for line in lines if line), code=code)

    def _clean(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, REDACTED)
        return redact(text)[:1000]

    def _tail(self, stderr: str, lines: int = 12) -> str:
        meaningful = [
            line.rstrip() for line in stderr.splitlines() if line.strip() and not _NOISE.search(line)
        ]
        return self._clean(_REPORT.sub("", "\n".join(meaningful[-lines:])))


def _read(path: Path) -> str:
    return path.read_bytes().decode(errors="replace")


def _split_json(text: str) -> tuple[dict[str, Any], str]:
    """The CLI's JSON document and the log text before it; ({}, text) when there is none. A document
    starts with `{` at the start of a line; on failure the CLI prints it twice (once after `[ERROR] `)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value, text[: match.start()]
    return {}, text


def _usage(output: dict[str, Any]) -> AgentUsage:
    """Tokens summed over every model the session used; thoughts are billed as output."""
    models = (output.get("stats") or {}).get("models") or {}
    prompt = output_tokens = 0
    for stats in models.values():
        tokens = stats.get("tokens") or {}
        prompt += int(tokens.get("prompt") or 0)
        output_tokens += int(tokens.get("candidates") or 0) + int(tokens.get("thoughts") or 0)
    return AgentUsage(prompt, output_tokens)


def _http_status(error: dict[str, Any] | None, log: str) -> int | None:
    code = (error or {}).get("code")
    if isinstance(code, int) and 400 <= code < 600:
        return code
    match = _STATUS.search(log)
    return int(match[1]) if match else None
