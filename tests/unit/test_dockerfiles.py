"""Static checks of the images (no Docker engine here; `make lint` runs hadolint on them, and
tests/integration/test_images.py runs their entry commands): what they copy exists, they run as a non-root
user on a supported base, start a target that exists, and the build context leaves out what never belongs
in an image."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from appgen.deploy.images import context_files
from appgen.deploy.plan import DOCKERFILES
from appgen.settings import REPO_ROOT

IMAGES = {name: path for name, path in DOCKERFILES.items() if (REPO_ROOT / path).is_file()}
BASES = {
    "worker": r"node:(22|24)-bookworm-slim",  # a supported Node LTS: the Gemini CLI runs on it
    "functions": r"python:3\.1[1-3]-slim-bookworm",
    "builder": r"node:(22|24)-bookworm-slim",  # the worker's Node: it builds the same starter
}


def instructions(dockerfile: str | Path) -> list[tuple[str, str]]:
    """(keyword, rest) of each instruction, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (REPO_ROOT / dockerfile).read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _env(dockerfile: str) -> str:
    return " ".join(rest for keyword, rest in instructions(dockerfile) if keyword == "ENV")


def test_the_worker_functions_and_builder_images_exist() -> None:
    assert set(IMAGES) == {"worker", "functions", "builder"}


@pytest.mark.parametrize("dockerfile", IMAGES.values())
def test_every_copied_path_exists_in_the_repository(dockerfile: str) -> None:
    copies = [rest for keyword, rest in instructions(dockerfile) if keyword == "COPY"]
    assert copies, "the Dockerfile copies nothing"
    for rest in copies:
        for source in shlex.split(rest)[:-1]:
            assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path"


@pytest.mark.parametrize("dockerfile", IMAGES.values())
def test_runs_as_a_non_root_user_after_installing(dockerfile: str) -> None:
    steps = instructions(dockerfile)
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in steps[last_user:]), "RUN after USER would run unprivileged"


@pytest.mark.parametrize("name", ["worker", "functions", "builder"])
def test_starts_from_a_supported_base_image(name: str) -> None:
    (base,) = [rest for keyword, rest in instructions(IMAGES[name]) if keyword == "FROM"]
    assert re.fullmatch(BASES[name], base), f"unexpected base image {base}"


@pytest.mark.parametrize(
    ("name", "source", "target"),
    [
        ("worker", "worker_container/main.py", "run_task"),
        ("functions", "functions/main.py", None),
        ("builder", "builder_container/main.py", "build"),
    ],
)
def test_starts_a_functions_framework_target_that_exists(name: str, source: str, target: str | None) -> None:
    (cmd,) = [rest for keyword, rest in instructions(IMAGES[name]) if keyword == "CMD"]
    argv = json.loads(cmd)
    assert argv[0] == "/opt/venv/bin/functions-framework" and argv[argv.index("--source") + 1] == source
    assert "--port" not in argv, "the port comes from PORT, which Cloud Run sets"
    if target is None:  # one image, three services: each names its target in FUNCTION_TARGET
        assert "--target" not in argv and "FUNCTION_TARGET=api" in _env(IMAGES[name])
        for function in ("api", "orchestrate", "cleanup"):
            pattern = rf"^({function} = functions_framework\.http\(|def {function}\()"
            assert re.search(pattern, (REPO_ROOT / source).read_text(), re.M), function
    else:
        assert argv[argv.index("--target") + 1] == target
        assert f"def {target}(" in (REPO_ROOT / source).read_text()


def test_gemini_cli_comes_from_the_pinned_lockfile() -> None:
    runs = " ".join(rest for keyword, rest in instructions(IMAGES["worker"]) if keyword == "RUN")
    assert "npm ci --prefix worker_container" in runs
    manifest = json.loads((REPO_ROOT / "worker_container" / "package.json").read_text())
    version = manifest["dependencies"]["@google/gemini-cli"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"not an exact pin: {version}"
    lock = json.loads((REPO_ROOT / "worker_container" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@google/gemini-cli"]["version"] == version


def test_worker_writes_only_under_workspace() -> None:
    env = _env(IMAGES["worker"])
    assert "HOME=/workspace" in env and "APPGEN_WORK_DIR=/workspace/" in env


@pytest.mark.parametrize("dockerfile", IMAGES.values())
def test_dockerfile_mentions_no_secret_values(dockerfile: str) -> None:
    text = (REPO_ROOT / dockerfile).read_text()
    assert not re.search(r"(?i)(GEMINI_API_KEY|SECRET|TOKEN|PASSWORD)\s*=", text)


@pytest.mark.parametrize("dockerfile", IMAGES.values())
def test_the_build_context_leaves_out_caches_dependencies_and_local_state(dockerfile: str) -> None:
    sent = {path.relative_to(REPO_ROOT).as_posix() for path in context_files(REPO_ROOT, dockerfile)}
    assert sent, "nothing of the repository reaches the image"
    for path in sent:
        parts = path.split("/")
        assert not {"node_modules", "__pycache__", ".next", ".venv", ".appgen", ".git"} & set(parts), path
        assert not path.endswith(".pyc"), path


@pytest.mark.parametrize("name", ["worker", "builder"])
def test_the_images_that_render_carry_chromium_its_fonts_and_the_pinned_cdn_mirror(name: str) -> None:
    steps = instructions(IMAGES[name])
    runs = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    installs = re.findall(r"apt-get install ([^&]*)", runs)
    packages = set(" ".join(installs).split())
    assert {"chromium", "fonts-dejavu-core", "fonts-liberation2"} <= packages, packages
    assert "playwright install" not in runs, "Playwright must drive Debian's chromium, not download one"
    assert "npm ci --prefix worker_container/mirror --ignore-scripts" in runs
    copies = " ".join(rest for keyword, rest in steps if keyword == "COPY")
    assert "worker_container/mirror/package-lock.json" in copies
    lock = json.loads((REPO_ROOT / "worker_container" / "mirror" / "package-lock.json").read_text())
    manifest = json.loads((REPO_ROOT / "worker_container" / "mirror" / "package.json").read_text())
    for package, spec in manifest["dependencies"].items():
        # An alias (`npm:tailwindcss@2.2.19`) holds a second major version next to the current one.
        pin = re.fullmatch(r"(?:npm:(@?[^@]+)@)?(\d+\.\d+\.\d+)", spec)
        assert pin, f"{package}: not an exact pin: {spec}"
        locked = lock["packages"][f"node_modules/{package}"]
        assert locked["version"] == pin[2] and locked.get("name", package) == (pin[1] or package), locked


def test_playwright_is_a_runtime_dependency_of_appgen() -> None:
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    for package in ("playwright", "pillow", "numpy", "scikit-image"):
        assert package in runtime, package
