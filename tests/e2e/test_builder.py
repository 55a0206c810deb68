"""`LocalBuilder` from a cold install cache, with real npm: the install runs the starter's protected files
alone, without lifecycle scripts, and publishes a tree owned by the worker; the build then runs offline
against it read-only; an install that fails publishes nothing and builds nothing. (npm's downloads come
from the e2e tests' shared cache; the installed trees do not.)"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from appgen.pipeline.builder import INSTALL, BuildRequest, LocalBuilder
from appgen.pipeline.install_cache import InstallCache, lock_key
from tests.e2e.stack import INSTALL_CACHE
from tests.fixtures.starters import MISSING, starter_copy

pytestmark = pytest.mark.e2e

LIFECYCLE_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")


def _request(ws: Path) -> BuildRequest:
    return BuildRequest(ws, lambda limit: min(limit, 300.0))


def test_a_cold_cache_installs_the_protected_files_without_scripts_then_builds_offline(
    open_tmp: Path,
) -> None:
    # A script that ran would leave its mark in the tree the install publishes.
    scripts = {name: f"touch node_modules/.{name}-ran" for name in LIFECYCLE_SCRIPTS}
    starter = starter_copy(open_tmp / "starter", scripts=scripts)
    cache = InstallCache(open_tmp / "cache", 4096 * 1024 * 1024, npm_dir=INSTALL_CACHE / "npm")
    ws = open_tmp / "ws"
    shutil.copytree(starter, ws)

    result = LocalBuilder(starter_dir=starter, cache=cache).build(_request(ws))

    assert result.install is not None and result.install.ok, result.install
    assert result.install.argv == INSTALL and "--ignore-scripts" in INSTALL
    key = lock_key((starter / "package-lock.json").read_bytes())
    tree = cache.trees / key
    assert not list(tree.glob(".*-ran")) and list(cache.staging.iterdir()) == []
    assert (tree / "next" / "package.json").is_file()
    assert (tree / "next" / "package.json").stat().st_uid == os.getuid()  # not the box's user
    assert result.build is not None and result.build.ok, result.build.output
    assert result.lint is not None and result.lint.ok, result.lint.output
    assert "<html" in result.pages["index.html"]
    assert sorted(p.name for p in (ws / "node_modules").iterdir()) == []  # the tree was only mounted


def test_an_install_that_fails_publishes_nothing_and_builds_nothing(open_tmp: Path) -> None:
    starter = starter_copy(open_tmp / "starter", missing_dependency=True)
    cache = InstallCache(open_tmp / "cache", 4096 * 1024 * 1024, npm_dir=INSTALL_CACHE / "npm")
    ws = open_tmp / "ws"
    shutil.copytree(starter, ws)

    result = LocalBuilder(starter_dir=starter, cache=cache).build(_request(ws))

    assert result.install is not None and not result.install.ok
    assert "npm error 404" in result.install.output and MISSING in result.install.output
    assert result.build is None and result.lint is None and result.pages == {}
    assert result.failed == result.install
    assert not cache.trees.exists() or list(cache.trees.iterdir()) == []
    assert list(cache.staging.iterdir()) == []
