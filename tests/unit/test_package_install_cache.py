"""The node_modules install cache: keyed by the lockfile, hard-linked, published atomically, and never
written through by a job."""

from __future__ import annotations

import threading
from pathlib import Path

from appgen.pipeline import install_cache


def _installed(ws: Path, lock: str = '{"lockfileVersion": 3}') -> Path:
    ws.mkdir(parents=True)
    (ws / "package-lock.json").write_text(lock)
    modules = ws / "node_modules"
    (modules / "next" / "dist").mkdir(parents=True)
    (modules / "next" / "dist" / "index.js").write_text("module.exports = 'next';\n")
    (modules / ".bin").mkdir()
    (modules / ".bin" / "next").symlink_to("../next/dist/index.js")
    (modules / ".package-lock.json").write_text('{"hidden": true}')
    (modules / ".cache" / "x").mkdir(parents=True)
    return ws


def _entries(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / install_cache.CACHE_DIR_NAME).iterdir())


def test_a_stored_tree_seeds_the_next_workspace_with_the_same_lockfile(tmp_path: Path) -> None:
    cache = tmp_path / "npm-cache"
    first = _installed(tmp_path / "first")
    key = install_cache.lock_key(first)
    assert key is not None and len(key) == 32

    assert install_cache.store(first, cache) is True
    assert install_cache.store(first, cache) is False  # the key exists: nothing to publish
    assert _entries(cache) == [key]
    entry = cache / install_cache.CACHE_DIR_NAME / key
    assert not (entry / ".cache").exists()

    second = tmp_path / "second"
    second.mkdir()
    (second / "package-lock.json").write_text((first / "package-lock.json").read_text())
    assert install_cache.seed(second, cache) is True
    seeded = second / "node_modules"
    index = seeded / "next" / "dist" / "index.js"
    assert index.read_text() == "module.exports = 'next';\n"
    assert index.stat().st_ino == (entry / "next" / "dist" / "index.js").stat().st_ino  # a hard link
    assert (seeded / ".bin" / "next").is_symlink()
    assert (seeded / ".bin" / "next").resolve() == index.resolve()

    # npm rewrites its hidden lockfile in place: the workspace has its own copy, the cache is untouched.
    hidden = seeded / ".package-lock.json"
    assert hidden.stat().st_ino != (entry / ".package-lock.json").stat().st_ino
    hidden.write_text("changed")
    assert (entry / ".package-lock.json").read_text() == '{"hidden": true}'


def test_no_seed_for_another_lockfile_an_existing_tree_or_no_lockfile(tmp_path: Path) -> None:
    cache = tmp_path / "npm-cache"
    install_cache.store(_installed(tmp_path / "first"), cache)

    other = tmp_path / "other"
    other.mkdir()
    (other / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {}}')
    assert install_cache.seed(other, cache) is False
    assert not (other / "node_modules").exists()

    already = _installed(tmp_path / "already")
    assert install_cache.seed(already, cache) is False

    bare = tmp_path / "bare"
    bare.mkdir()
    assert install_cache.seed(bare, cache) is False
    assert install_cache.store(bare, cache) is False


def test_concurrent_stores_of_one_key_publish_exactly_one_complete_tree(tmp_path: Path) -> None:
    cache = tmp_path / "npm-cache"
    workspaces = [_installed(tmp_path / f"ws{i}") for i in range(6)]
    results: list[bool] = []
    barrier = threading.Barrier(len(workspaces))

    def store(ws: Path) -> None:
        barrier.wait()
        results.append(install_cache.store(ws, cache))

    threads = [threading.Thread(target=store, args=(ws,)) for ws in workspaces]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 5 + [True]
    key = install_cache.lock_key(workspaces[0])
    assert _entries(cache) == [key]  # no staging directory left behind
    entry = cache / install_cache.CACHE_DIR_NAME / str(key)
    assert (entry / "next" / "dist" / "index.js").read_text() == "module.exports = 'next';\n"
