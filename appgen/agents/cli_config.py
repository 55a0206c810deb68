"""The Gemini CLI's configuration for one agent run: the per-run home and the environment that confine it.

What confines a session (verified against @google/gemini-cli 0.61.0):

- A fresh `GEMINI_CLI_HOME` per run (the runner removes it afterwards) holds `.gemini/settings.json`:
  API-key auth (without it the CLI exits 41), no telemetry, usage statistics, auto-update, checkpointing,
  session retention, hooks, skills, subagents, plan mode or `.env` loading from the workspace, and
  `model.maxSessionTurns`. (It is not also passed as the system settings file: the CLI ignores that file
  unless every parent directory is writable by its owner only.)
- `.gemini/policies/appgen.toml` in that home denies, in the user tier, every tool that reaches outside
  the workspace or needs a person (`DENIED_TOOLS`). Denied tools are not even declared to the model.
- A `.gemini/` directory inside the workspace (project settings, `.env`, policies, commands, skills) would
  reconfigure the CLI, so the runner deletes it before and after each run (`remove_project_config`).
- The system prompt is written to a file named by `GEMINI_SYSTEM_MD`, which replaces the built-in one.
- The environment (`agent_env`) is built from scratch: nothing inherited but `PATH`, so database URLs and
  service keys never reach the agent. `GEMINI_CLI_NO_RELAUNCH` keeps the CLI to one node process
  (otherwise it re-executes itself with a larger heap), `TMPDIR` keeps its error reports inside the
  per-run home.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from appgen import subprocesses

DENIED_TOOLS = (
    "run_shell_command",
    "list_background_processes",
    "read_background_output",
    "web_fetch",
    "google_web_search",
    "invoke_agent",
    "activate_skill",
    "save_memory",
    "ask_user",
    "enter_plan_mode",
    "exit_plan_mode",
)


def prepare_home(
    home: Path, *, prompt: str, system_prompt: str, max_turns: int, max_attempts: int = 3
) -> None:
    """The per-run CLI home: settings, the tool policy, the system prompt and the prompt."""
    config = home / ".gemini"
    (config / "policies").mkdir(parents=True, mode=0o700)
    (home / "tmp").mkdir(exist_ok=True)  # a parked process's home has it already (warm.py)
    (config / "settings.json").write_text(json.dumps(cli_settings(max_turns, max_attempts), indent=2))
    (config / "policies" / "appgen.toml").write_text(policy_toml())
    (home / "system.md").write_text(system_prompt)
    (home / "prompt.md").write_text(prompt)


def cli_settings(max_turns: int, max_attempts: int) -> dict[str, Any]:
    return {
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
        "general": {
            "enableAutoUpdate": False,
            "enableAutoUpdateNotification": False,
            "checkpointing": {"enabled": False},
            "sessionRetention": {"enabled": False},
            "plan": {"enabled": False},
            "maxAttempts": max(1, min(max_attempts, 10)),
        },
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False, "logPrompts": False},
        "model": {"maxSessionTurns": max_turns},
        "advanced": {"ignoreLocalEnv": True, "autoConfigureMemory": False},
        "experimental": {"enableAgents": False},
        "skills": {"enabled": False},
        "hooksConfig": {"enabled": False},
        "tools": {"useRipgrep": False},
    }


def policy_toml() -> str:
    names = ", ".join(json.dumps(name) for name in DENIED_TOOLS)
    return (
        "# Written by appgen for one agent run: tools that reach outside the workspace or need a person.\n"
        f'[[rule]]\ntoolName = [{names}]\ndecision = "deny"\npriority = 999\n'
        'denyMessage = "This tool is not available: work only with the files in the workspace."\n'
    )


def agent_env(home: Path, *, api_key: str, base_url: str | None) -> dict[str, str]:
    """The whole environment of the CLI: nothing inherited but PATH."""
    values = {
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "GEMINI_CLI_HOME": str(home),
        "GEMINI_SYSTEM_MD": str(home / "system.md"),
        "GEMINI_API_KEY": api_key,
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "GEMINI_TELEMETRY_ENABLED": "false",
        "NO_COLOR": "1",
        "CI": "1",
        "NO_UPDATE_NOTIFIER": "1",
    }
    if base_url:
        values["GOOGLE_GEMINI_BASE_URL"] = base_url
    return subprocesses.environment(values)


def remove_project_config(workspace: Path) -> None:
    """A `.gemini/` in the workspace would reconfigure the CLI: gone before and after every run."""
    project = workspace / ".gemini"
    if project.is_symlink() or project.is_file():
        project.unlink()
    elif project.is_dir():
        shutil.rmtree(project)
