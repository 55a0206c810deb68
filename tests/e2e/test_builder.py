"""`LocalBuilder` from a cold install cache, with real npm: the install runs the starter's protected files
alone, without lifecycle scripts, and publishes a tree owned by the worker; the build box then gets that
tree read-only. (npm's downloads come from the e2e tests' shared cache; the installed trees do not. Real
`next build`s of the cached tree are test_scaffold_build's and the pipeline tests'; a failing install is
test_pipeline_guardrails'.)"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from appgen.pipeline.builder import INSTALL, BuildRequest, LocalBuilder
from appgen.pipeline.install_cache import InstallCache, lock_key
from tests.e2e.stack import INSTALL_CACHE
from tests.fixtures.starters import starter_copy

pytestmark = pytest.mark.e2e

LIFECYCLE_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")
BUILD_CHECKS_THE_TREE = (
    "node -e \"console.log('next ' + require('next/package.json').version)\" "
    "&& ! touch node_modules/next/package.json node_modules/.planted"
)


def _request(ws: Path) -> BuildRequest:
    return BuildRequest(ws, lambda limit: min(limit, 300.0))


def test_a_cold_cache_installs_the_protected_files_without_scripts_for_a_read_only_build(
    open_tmp: Path,
) -> None:
    # A script that ran would leave its mark in the tree the install publishes.
    scripts = {name: f"touch node_modules/.{name}-ran" for name in LIFECYCLE_SCRIPTS}
    starter = starter_copy(open_tmp / "starter", scripts=scripts)
    cache = InstallCache(open_tmp / "cache", 4096 * 1024 * 1024, npm_dir=INSTALL_CACHE / "npm")
    ws = open_tmp / "ws"
    shutil.copytree(starter, ws)
    # The workspace's own build checks what it was given: the tree, and no way to write into it.
    manifest = json.loads((ws / "package.json").read_text())
    manifest["scripts"] = {"build": BUILD_CHECKS_THE_TREE}
    (ws / "package.json").write_text(json.dumps(manifest))

    result = LocalBuilder(starter_dir=starter, cache=cache).build(_request(ws))

    assert result.install is not None and result.install.ok, result.install
    assert result.install.argv == INSTALL and "--ignore-scripts" in INSTALL
    key = lock_key((starter / "package-lock.json").read_bytes())
    tree = cache.trees / key
    assert not list(tree.glob(".*-ran")) and list(cache.staging.iterdir()) == []
    assert (tree / "next" / "package.json").is_file()
    assert (tree / "next" / "package.json").stat().st_uid == os.getuid()  # not the box's user
    assert result.build is not None and result.build.ok, result.build.output
    assert "next 16." in result.build.output and "Read-only file system" in result.build.output
    assert result.lint is None and result.pages == {}  # no lint script, nothing prerendered
    assert sorted(p.name for p in (ws / "node_modules").iterdir()) == []  # the tree was only mounted
