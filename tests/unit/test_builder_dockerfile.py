"""Static checks of the builder image (no Docker engine here): it copies what exists, runs as a non-root
user on Node 22 LTS with bubblewrap, installs the starter's protected files without scripts into the
install cache its service reads (under the key appgen computes), holds no secret, and starts the `build`
target. Its entry command runs in tests/integration/test_target_startup.py."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

from appgen import builder_service
from appgen.pipeline.install_cache import lock_key
from appgen.settings import REPO_ROOT
from tests.unit.test_dockerfiles import instructions

DOCKERFILE = REPO_ROOT / "builder_container" / "Dockerfile"


def _all(keyword: str) -> list[str]:
    return [rest for word, rest in instructions(DOCKERFILE) if word == keyword]


def _env() -> dict[str, str]:
    return dict(pair.split("=", 1) for rest in _all("ENV") for pair in shlex.split(rest))


def _install_run() -> str:
    (run,) = [rest for rest in _all("RUN") if "npm ci --prefix /opt/appgen/install" in rest]
    return run


def test_every_copied_path_exists_and_only_the_starters_protected_files_are_copied() -> None:
    sources = [source for rest in _all("COPY") for source in shlex.split(rest)[:-1]]
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path"
    starter = [source for source in sources if source.startswith("worker_container/starter/")]
    assert starter == ["worker_container/starter/package.json", "worker_container/starter/package-lock.json"]
    # Beside them only the renderer's pinned CDN mirror, which no workspace touches.
    others = {source for source in sources if source.startswith("worker_container/")} - set(starter)
    assert others == {"worker_container/mirror/package.json", "worker_container/mirror/package-lock.json"}


def test_node_lts_bubblewrap_and_a_non_root_user_after_installing() -> None:
    (base,) = _all("FROM")
    assert re.fullmatch(r"node:(22|24)-bookworm-slim", base), base
    assert "bubblewrap" in " ".join(_all("RUN"))
    steps = instructions(DOCKERFILE)
    (user,) = _all("USER")
    assert user.split(":")[0] not in ("root", "0")
    last_user = max(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in steps[last_user:]), "RUN after USER"


def test_the_starter_is_installed_without_scripts_into_the_cache_the_service_reads() -> None:
    run = _install_run()
    assert "npm ci --prefix /opt/appgen/install --ignore-scripts" in run
    cache = _env()["APPGEN_NPM_CACHE"]
    assert f'mv /opt/appgen/install/node_modules "{cache}/trees/$key"' in run
    # The key is appgen's own: the command the image runs computes what the service looks up.
    command = re.search(r'key="\$\((.*?)\)"\s+&&', run)
    assert command is not None, run
    python, flag, script, lockfile = shlex.split(command.group(1))
    assert (python, flag) == ("/opt/venv/bin/python", "-c")
    computed = subprocess.run(
        [sys.executable, "-c", script, str(REPO_ROOT / lockfile)], capture_output=True, text=True, check=True
    )
    assert computed.stdout.strip() == lock_key((REPO_ROOT / lockfile).read_bytes())


def test_it_writes_only_under_workspace_and_holds_no_secret() -> None:
    env = _env()
    assert env["HOME"] == "/workspace" and env["APPGEN_WORK_DIR"].startswith("/workspace/")
    for name in env:
        assert name not in builder_service.SECRET_NAMES and not builder_service._SECRET_SHAPED.search(name)
    assert not re.search(r"(?i)(GEMINI_API_KEY|SECRET|TOKEN|PASSWORD)\s*=", DOCKERFILE.read_text())


def test_starts_the_build_target_of_the_builder_entrypoint() -> None:
    (cmd,) = _all("CMD")
    argv = json.loads(cmd)
    assert argv[0] == "/opt/venv/bin/functions-framework" and "--port" not in argv  # Cloud Run sets PORT
    assert argv[argv.index("--target") + 1] == "build"
    assert "def build(" in (REPO_ROOT / argv[argv.index("--source") + 1]).read_text()
