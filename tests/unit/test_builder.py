"""What the local builder does around its boxes, on files a hostile build could have left: the pages it
hands back are regular files inside the workspace (a planted link never makes the worker read a file of
its own, a FIFO never blocks the read), and whatever an agent left at `node_modules` becomes an empty
mount point."""

from __future__ import annotations

import os
from pathlib import Path

from appgen.pipeline.builder import PAGES_DIR, STATIC_DIR, _files, _mount_point, _pages


def test_pages_are_the_prerendered_html_files_by_their_path(tmp_path: Path) -> None:
    pages = tmp_path / PAGES_DIR
    (pages / "about").mkdir(parents=True)
    (pages / "index.html").write_text("<h1>Home</h1>")
    (pages / "about" / "team.html").write_text("<h1>Team</h1>")
    (pages / "index.rsc").write_text("not html")
    assert _pages(tmp_path) == {"index.html": "<h1>Home</h1>", "about/team.html": "<h1>Team</h1>"}


def test_a_link_planted_by_the_build_is_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "internal-secret"
    secret.write_text("worker-secret-7070")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "leak.html").write_text("worker-secret-7071")
    ws = tmp_path / "ws"
    pages = ws / PAGES_DIR
    pages.mkdir(parents=True)
    (pages / "index.html").symlink_to(secret)
    (pages / "linked").symlink_to(tmp_path / "outside")
    (pages / "ok.html").write_text("<p>ok</p>")
    assert _pages(ws) == {"ok.html": "<p>ok</p>"}

    # A link higher up, to a tree that looks like build output, is refused as a whole.
    other = tmp_path / "ws2"
    other.mkdir()
    (tmp_path / "fake" / "server" / "app").mkdir(parents=True)
    (tmp_path / "fake" / "server" / "app" / "index.html").write_text("worker-secret-7072")
    (other / ".next").symlink_to(tmp_path / "fake")
    assert _pages(other) == {}


def test_stylesheets_are_read_like_pages_and_a_fifo_does_not_block_the_read(tmp_path: Path) -> None:
    css = tmp_path / STATIC_DIR / "chunks"
    css.mkdir(parents=True)
    (css / "a.css").write_text(".a{color:red}")
    (css / "b.js").write_text("not css")
    os.mkfifo(css / "hang.css")  # opening it for reading would wait for a writer forever
    (css / "linked.css").symlink_to(tmp_path / "nowhere.css")
    assert _files(tmp_path, STATIC_DIR, ".css") == {"chunks/a.css": ".a{color:red}"}


def test_whatever_an_agent_left_at_node_modules_becomes_an_empty_mount_point(tmp_path: Path) -> None:
    for name, make in {
        "file": lambda p: p.write_text("x"),
        "link": lambda p: p.symlink_to("/etc"),
        "dir": lambda p: (p.mkdir(), (p / "next").mkdir()),
    }.items():
        ws = tmp_path / name
        ws.mkdir()
        make(ws / "node_modules")
        _mount_point(ws / "node_modules")
        assert (ws / "node_modules").is_dir() and not (ws / "node_modules").is_symlink()
        assert list((ws / "node_modules").iterdir()) == []
    assert Path("/etc").is_dir()
