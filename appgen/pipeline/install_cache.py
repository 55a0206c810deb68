"""The install cache: one installed `node_modules` per protected lockfile, shared by every job and
read-only to all of them.

Layout under its root (`APPGEN_NPM_CACHE`, default `<data dir>/npm-cache`):

    npm/            npm's download cache; only installing boxes write it, and they run only npm on
                    the starter's protected files (`builder.py`)
    trees/<key>/    an installed node_modules; key = SHA-256 of the package-lock.json it installs
    trees/<key>.used  its size in bytes; its mtime is the tree's last use (LRU)
    staging/        installs in progress, and trees on their way out

A *seed* (`APPGEN_INSTALL_SEED`) is a second, read-only cache of the same layout, filled once when the
machine or image is set up (`make deps`, `scripts/seed-install-cache`; the builder image bakes its own
cache): a tree found there is used as it is, never pruned and never written, so the first job of a fresh
data directory or a fresh instance does not install.

- A tree is immutable once published: an install fills a staging directory, which is renamed into
  place (atomic), so a reader never sees half a tree; two installs of one key at once both finish and
  the second copy is dropped. A root worker hands the published tree back to its own uid, so the box
  user owns nothing in it; builds only ever bind it read-only (`appgen.sandbox`).
- Pruned by size, least recently used first, whenever a tree is published, down to `max_bytes` (the
  newest tree always stays). A build holds a shared lock on its tree (`lease`); pruning takes the lock
  exclusively without waiting and skips trees in use, so a running build never loses its files.
  Pruning also removes staging directories a killed worker left behind (older than `STALE_STAGING_S`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appgen.sandbox import hand_over

STALE_STAGING_S = 2 * 3600.0  # well past the longest install (15 minutes)


def lock_key(lockfile: bytes) -> str:
    return hashlib.sha256(lockfile).hexdigest()[:32]


class InstallCache:
    def __init__(self, root: Path, max_bytes: int, npm_dir: Path | None = None, seed: Path | None = None):
        """`npm_dir`: npm's download cache, by default `<root>/npm` (tests share one between caches);
        `seed`: a read-only cache consulted first."""
        self.root = root
        self.seed = seed
        self.max_bytes = max_bytes
        self.trees = root / "trees"
        self.npm = npm_dir or root / "npm"
        self.staging = root / "staging"

    def __repr__(self) -> str:
        return f"InstallCache({self.root}, max_bytes={self.max_bytes})"

    def has(self, key: str) -> bool:
        return self._seeded(key) is not None or (self.trees / key).is_dir()

    def _seeded(self, key: str) -> Path | None:
        tree = self.seed / "trees" / key if self.seed is not None else None
        return tree if tree is not None and tree.is_dir() else None

    @contextmanager
    def lease(self, key: str) -> Iterator[Path | None]:
        """The tree of `key` (None when there is none), kept from pruning until the block ends."""
        seeded = self._seeded(key)
        if seeded is not None:  # never pruned: nothing to hold
            yield seeded
            return
        tree = self.trees / key
        try:
            fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            if not _still_at(fd, tree):  # pruned between the open and the lock
                yield None
                return
            used = self.trees / f"{key}.used"
            if used.exists():
                os.utime(used)
            yield tree
        finally:
            os.close(fd)

    @contextmanager
    def staging_dir(self) -> Iterator[Path]:
        """A fresh directory for one install, on the cache's file system; removed afterwards."""
        path = self.staging / uuid.uuid4().hex
        path.mkdir(parents=True, mode=0o755)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def publish(self, key: str, node_modules: Path) -> bool:
        """Move an installed tree into the cache under `key`; False when another install was first."""
        self.trees.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            hand_over(node_modules, os.getuid())
        size = _disk_usage(node_modules)
        try:
            os.rename(node_modules, self.trees / key)  # atomic; fails when the key exists
        except OSError:
            return False
        (self.trees / f"{key}.used").write_text(f"{size}\n")
        self.prune(keep=key)
        return True

    def prune(self, keep: str | None = None) -> list[str]:
        """Remove least recently used trees not in use until the cache fits `max_bytes`; the keys gone."""
        self._remove_stale_staging()
        entries = []
        for used in self.trees.glob("*.used"):
            try:
                entries.append((used.stat().st_mtime, used.stem, int(used.read_text())))
            except (OSError, ValueError):
                continue
        total = sum(size for _, _, size in entries)
        removed = []
        for _, key, size in sorted(entries):
            if total <= self.max_bytes:
                break
            if key != keep and self._remove_unused(key):
                total -= size
                removed.append(key)
        return removed

    def _remove_stale_staging(self) -> None:
        if not self.staging.is_dir():
            return
        for entry in self.staging.iterdir():
            if time.time() - entry.lstat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(entry, ignore_errors=True)

    def _remove_unused(self, key: str) -> bool:
        tree = self.trees / key
        try:
            fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            (self.trees / f"{key}.used").unlink(missing_ok=True)
            return True
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a build is using it
                return False
            self.staging.mkdir(parents=True, exist_ok=True)
            doomed = self.staging / f"pruned-{key}-{uuid.uuid4().hex[:8]}"
            os.rename(tree, doomed)
            (self.trees / f"{key}.used").unlink(missing_ok=True)
        finally:
            os.close(fd)
        shutil.rmtree(doomed, ignore_errors=True)
        return True


def _still_at(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _disk_usage(root: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total
