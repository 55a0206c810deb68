"""The install cache: trees keyed by the lockfile, published atomically (one winner), handed back to the
worker's uid, leased while a build uses them, pruned least recently used first down to its size limit
without ever removing a tree in use, and rid of what killed installs left in staging."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from appgen.pipeline.install_cache import STALE_STAGING_S, InstallCache, lock_key
from appgen.sandbox import BOX_UID

MB = 1024 * 1024


def _installed(at: Path, size: int = 4096) -> Path:
    """A node_modules as an install box leaves it (owned by the box's uid when the worker is root)."""
    modules = at / "node_modules"
    (modules / "next" / "dist").mkdir(parents=True)
    (modules / "next" / "dist" / "index.js").write_bytes(b"x" * size)
    (modules / ".bin").mkdir()
    (modules / ".bin" / "next").symlink_to("../next/dist/index.js")
    if os.geteuid() == 0:
        for path in (
            modules,
            modules / "next",
            modules / "next" / "dist",
            modules / "next" / "dist" / "index.js",
        ):
            os.chown(path, BOX_UID, BOX_UID)
    return modules


def test_the_key_is_the_lockfiles_digest() -> None:
    assert lock_key(b'{"lockfileVersion": 3}') == lock_key(b'{"lockfileVersion": 3}')
    assert lock_key(b"a") != lock_key(b"b") and len(lock_key(b"a")) == 32


def test_a_published_tree_is_leased_whole_and_owned_by_the_worker(tmp_path: Path) -> None:
    cache = InstallCache(tmp_path / "cache", 100 * MB)
    assert not cache.has("k1")
    with cache.lease("k1") as missing:
        assert missing is None

    with cache.staging_dir() as staging:
        assert cache.publish("k1", _installed(staging)) is True
    assert cache.has("k1") and list(cache.staging.iterdir()) == []
    with cache.lease("k1") as tree:
        assert tree == cache.trees / "k1"
        index = tree / "next" / "dist" / "index.js"
        assert index.read_bytes() == b"x" * 4096
        assert (tree / ".bin" / "next").is_symlink()
        assert index.stat().st_uid == os.getuid()  # the box user owns nothing it is later shown
    assert int((cache.trees / "k1.used").read_text()) >= 4096


def test_concurrent_publishes_of_one_key_keep_exactly_one_complete_tree(tmp_path: Path) -> None:
    cache = InstallCache(tmp_path / "cache", 100 * MB)
    installs = [_installed(tmp_path / f"install{i}") for i in range(6)]
    results: list[bool] = []
    barrier = threading.Barrier(len(installs))

    def publish(modules: Path) -> None:
        barrier.wait()
        results.append(cache.publish("k1", modules))

    threads = [threading.Thread(target=publish, args=(m,)) for m in installs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert sorted(p.name for p in cache.trees.iterdir()) == ["k1", "k1.used"]
    assert (cache.trees / "k1" / "next" / "dist" / "index.js").read_bytes() == b"x" * 4096


def _publish(cache: InstallCache, key: str, size: int) -> None:
    with cache.staging_dir() as staging:
        assert cache.publish(key, _installed(staging, size))
    time.sleep(0.02)  # distinct use times


def test_publishing_prunes_the_least_recently_used_trees_down_to_the_limit(tmp_path: Path) -> None:
    cache = InstallCache(tmp_path / "cache", int(2.5 * MB))
    _publish(cache, "old", MB)
    _publish(cache, "used", MB)
    with cache.lease("old"):  # a use makes "old" the most recently used
        pass
    time.sleep(0.02)
    _publish(cache, "new", MB)  # over the limit: the least recently used ("used") goes
    assert sorted(k for k in ("old", "used", "new") if cache.has(k)) == ["new", "old"]
    assert not (cache.trees / "used.used").exists()
    assert [p.name for p in cache.staging.iterdir()] == []


def test_a_tree_in_use_is_never_pruned_and_the_newest_always_stays(tmp_path: Path) -> None:
    cache = InstallCache(tmp_path / "cache", MB // 2)  # smaller than one tree
    _publish(cache, "busy", MB)
    assert cache.has("busy")  # the newest stays even above the limit
    with cache.lease("busy") as tree:
        assert tree is not None
        _publish(cache, "next", MB)
        assert cache.has("busy") and (tree / "next" / "dist" / "index.js").is_file()
    assert cache.prune() == ["busy", "next"]  # no longer in use, no longer the newest
    with cache.lease("busy") as tree:
        assert tree is None


def test_pruning_removes_what_killed_installs_left_in_staging(tmp_path: Path) -> None:
    cache = InstallCache(tmp_path / "cache", 100 * MB)
    stale, fresh = cache.staging / "stale", cache.staging / "fresh"
    for path in (stale, fresh):
        (path / "node_modules").mkdir(parents=True)
    old = time.time() - STALE_STAGING_S - 60
    os.utime(stale, (old, old))
    cache.prune()
    assert [p.name for p in cache.staging.iterdir()] == ["fresh"]  # maybe an install still running


def test_a_tree_in_the_seed_is_used_as_it_is_and_never_pruned_or_copied(tmp_path: Path) -> None:
    seed = InstallCache(tmp_path / "seed", 100 * MB)
    with seed.staging_dir() as staging:
        assert seed.publish("k1", _installed(staging)) is True
    cache = InstallCache(tmp_path / "cache", MB // 2, seed=tmp_path / "seed")  # smaller than one tree
    assert cache.has("k1") and not cache.has("k2")
    with cache.lease("k1") as tree:
        assert tree == tmp_path / "seed" / "trees" / "k1"
    assert cache.prune() == [] and (tmp_path / "seed" / "trees" / "k1").is_dir()
    assert not (tmp_path / "cache").exists()  # nothing was installed, copied or written
