"""A cache of installed `node_modules` trees, keyed by the SHA-256 of the `package-lock.json` they are the
install of, kept beside the npm cache (`<npm cache>/_appgen_node_modules/<key>`).

Every job starts from the same starter lockfile, so `npm install` nearly always rebuilds the same tree; the
validate step seeds the workspace with a hard-linked copy of it (a symlinked `node_modules` breaks
Turbopack, which refuses one that resolves outside the project) and still runs `npm install
--prefer-offline`, which only has to add what an agent changed. After a successful install the tree is
stored under the key of the lockfile npm left behind, if that key is new.

Entries are immutable once published: a tree is linked into a private temporary directory and renamed
into place, so two jobs storing the same key at once cannot interleave (the loser's rename fails and its
copy is dropped), and a reader never sees half an entry. npm replaces package folders rather than editing
them; the few files it rewrites in place (`node_modules/.package-lock.json`) are copied, not linked, when
seeding, so a job cannot write through a link into the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

CACHE_DIR_NAME = "_appgen_node_modules"
# Written in place by npm or tools: never shared through a hard link.
_PRIVATE = (".package-lock.json",)
_NOT_CACHED = (".cache",)


def lock_key(workspace: Path) -> str | None:
    lock = workspace / "package-lock.json"
    if not lock.is_file():
        return None
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:32]


def seed(workspace: Path, npm_cache: Path) -> bool:
    """Give the workspace the cached tree of its lockfile; True on a hit."""
    key = lock_key(workspace)
    target = workspace / "node_modules"
    if key is None or target.exists():
        return False
    entry = npm_cache / CACHE_DIR_NAME / key
    if not entry.is_dir() or not _link_tree(entry, target):
        return False
    for name in _PRIVATE:
        linked = target / name
        if linked.is_file():
            data = linked.read_bytes()
            linked.unlink()
            linked.write_bytes(data)
    return True


def store(workspace: Path, npm_cache: Path) -> bool:
    """Publish the workspace's installed tree under its lockfile's key unless that key exists; True when
    this call published it."""
    key = lock_key(workspace)
    source = workspace / "node_modules"
    if key is None or not source.is_dir():
        return False
    root = npm_cache / CACHE_DIR_NAME
    entry = root / key
    if entry.exists():
        return False
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".tmp-{key}-{uuid.uuid4().hex}"
    try:
        if not _link_tree(source, staging):
            return False
        for name in _NOT_CACHED:
            shutil.rmtree(staging / name, ignore_errors=True)
        try:
            os.rename(staging, entry)  # atomic; fails when another job published the key first
        except OSError:
            return False
        return True
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _link_tree(source: Path, dest: Path) -> bool:
    """Hard-link copy of a tree (symlinks copied as links). False when the two are on different file
    systems or the copy failed, leaving nothing behind."""
    done = subprocess.run(["cp", "-al", str(source), str(dest)], capture_output=True, check=False)
    if done.returncode == 0:
        return True
    shutil.rmtree(dest, ignore_errors=True)
    return False
