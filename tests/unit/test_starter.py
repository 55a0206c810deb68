"""Static checks of `worker_container/starter/`, the Next.js template every job workspace starts from:
the files the package step requires are there, the versions are exact pins of the supported majors,
lint is ESLint itself (Next 16 removed `next lint`), and nothing fetches at build time."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

from appgen.settings import REPO_ROOT

STARTER = REPO_ROOT / "worker_container" / "starter"
REQUIRED_FILES = [
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "next.config.ts",
    "postcss.config.mjs",
    "eslint.config.mjs",
    "app/layout.tsx",
    "app/globals.css",
    "app/page.tsx",
    "README.md",
    ".env.example",
    "run-app.sh",
    "run-app.bat",
    "Dockerfile",
    ".dockerignore",
    ".gitignore",
]
EXACT = re.compile(r"\d+\.\d+\.\d+")


def _manifest() -> dict[str, Any]:
    return json.loads((STARTER / "package.json").read_text())


def _all_dependencies() -> dict[str, str]:
    manifest = _manifest()
    return {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}


def test_starter_has_the_required_files() -> None:
    missing = [name for name in REQUIRED_FILES if not (STARTER / name).is_file()]
    assert not missing, f"missing from the starter: {missing}"
    assert (STARTER / "public").is_dir()


def test_run_app_sh_is_executable_on_disk_and_in_git() -> None:
    script = STARTER / "run-app.sh"
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()
    listed = subprocess.run(
        ["git", "ls-files", "-s", "--", "worker_container/starter/run-app.sh"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert listed.split()[0] == "100755", f"run-app.sh is not executable in git: {listed!r}"


def test_versions_are_exact_pins_of_the_supported_majors() -> None:
    deps = _all_dependencies()
    assert re.fullmatch(r"16\.\d+\.\d+", deps["next"]), deps["next"]
    assert re.fullmatch(r"19\.\d+\.\d+", deps["react"]), deps["react"]
    assert deps["react-dom"] == deps["react"]
    assert re.fullmatch(r"4\.\d+\.\d+", deps["tailwindcss"]), deps["tailwindcss"]
    assert deps["@tailwindcss/postcss"] == deps["tailwindcss"]
    assert deps["eslint-config-next"] == deps["next"]
    assert re.fullmatch(r"9\.\d+\.\d+", deps["eslint"]), deps["eslint"]
    loose = {name: version for name, version in deps.items() if not EXACT.fullmatch(version)}
    assert not loose, f"not exact pins: {loose}"


def test_lockfile_matches_the_manifest() -> None:
    lock = json.loads((STARTER / "package-lock.json").read_text())
    root = lock["packages"][""]
    manifest = _manifest()
    assert root.get("dependencies", {}) == manifest.get("dependencies", {})
    assert root.get("devDependencies", {}) == manifest.get("devDependencies", {})
    for name, version in _all_dependencies().items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


def test_scripts_build_with_next_and_lint_with_eslint() -> None:
    scripts = _manifest()["scripts"]
    assert scripts["build"] == "next build"
    assert scripts["lint"] == "eslint ."
    assert {"dev", "start"} <= scripts.keys()


def test_tailwind_and_layout_are_wired_conventionally() -> None:
    css = (STARTER / "app" / "globals.css").read_text()
    assert css.startswith('@import "tailwindcss";')
    assert "@theme" in css
    assert "@tailwindcss/postcss" in (STARTER / "postcss.config.mjs").read_text()
    layout = (STARTER / "app" / "layout.tsx").read_text()
    assert 'import "./globals.css";' in layout
    assert "export const metadata" in layout
    assert '<html lang="en">' in layout
    tsconfig = json.loads((STARTER / "tsconfig.json").read_text())
    assert tsconfig["compilerOptions"]["paths"] == {"@/*": ["./*"]}


def test_nothing_fetches_at_build_time_and_no_build_output_is_committed() -> None:
    files = [path for path in STARTER.rglob("*") if path.is_file() and "node_modules" not in path.parts]
    offenders = [
        str(path.relative_to(STARTER))
        for path in files
        if path.name != "package-lock.json" and "next/font/google" in path.read_text(errors="replace")
    ]
    assert not offenders, f"next/font/google fetches fonts at build time: {offenders}"
    tracked = subprocess.run(
        ["git", "ls-files", "--", "worker_container/starter"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not [name for name in tracked if "/node_modules/" in name or "/.next/" in name]
