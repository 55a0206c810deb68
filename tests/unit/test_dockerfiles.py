"""Static checks of the worker image (no Docker engine here): what it copies exists, it runs as a non-root
user, pins the Gemini CLI through the lockfile, and starts the `run_task` target that exists."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from appgen.settings import REPO_ROOT

DOCKERFILE = REPO_ROOT / "worker_container" / "Dockerfile"


def instructions(dockerfile: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(keyword, rest) of each instruction, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_every_copied_path_exists_in_the_repository() -> None:
    copies = [rest for keyword, rest in instructions() if keyword == "COPY"]
    assert copies, "the Dockerfile copies nothing"
    for rest in copies:
        sources = shlex.split(rest)[:-1]
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path"


def test_runs_as_a_non_root_user_after_installing() -> None:
    steps = instructions()
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in steps[last_user:]), "RUN after USER would run unprivileged"


def test_gemini_cli_comes_from_the_pinned_lockfile() -> None:
    runs = " ".join(rest for keyword, rest in instructions() if keyword == "RUN")
    assert "npm ci --prefix worker_container" in runs
    manifest = json.loads((REPO_ROOT / "worker_container" / "package.json").read_text())
    version = manifest["dependencies"]["@google/gemini-cli"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"not an exact pin: {version}"
    lock = json.loads((REPO_ROOT / "worker_container" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@google/gemini-cli"]["version"] == version


def test_starts_the_run_task_target_of_the_worker_entrypoint() -> None:
    (cmd,) = [rest for keyword, rest in instructions() if keyword == "CMD"]
    argv = json.loads(cmd)
    assert argv[argv.index("--target") + 1] == "run_task"
    source = REPO_ROOT / argv[argv.index("--source") + 1]
    assert "def run_task(" in source.read_text()


def test_workspace_is_the_only_writable_home() -> None:
    env = " ".join(rest for keyword, rest in instructions() if keyword == "ENV")
    assert "HOME=/workspace" in env and "APPGEN_WORK_DIR=/workspace/" in env
    base = next(rest for keyword, rest in instructions() if keyword == "FROM")
    assert re.match(r"node:(20|22|24)-", base), f"not a Node LTS base image: {base}"


def test_dockerfile_mentions_no_secret_values() -> None:
    text = DOCKERFILE.read_text()
    assert not re.search(r"(?i)(GEMINI_API_KEY|SECRET|TOKEN)\s*=", text)
