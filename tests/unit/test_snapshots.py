"""Snapshots and page bundles: a workspace survives the round trip, and extraction refuses every member
that could land outside the workspace (absolute paths, `..`, links, devices, a directory that is a link)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from appgen.errors import StepFailed
from appgen.pipeline.snapshots import fingerprint, pack, unpack, workspace_files


def _workspace(root: Path) -> Path:
    (root / "app" / "home").mkdir(parents=True)
    (root / "app" / "home" / "page.tsx").write_text("export default function P() { return null; }\n")
    (root / "run-app.sh").write_text("#!/bin/sh\nnpm run dev\n")
    (root / "run-app.sh").chmod(0o755)
    (root / "node_modules" / "next").mkdir(parents=True)
    (root / "node_modules" / "next" / "index.js").write_text("module.exports = 1;\n")
    (root / ".next").mkdir()
    (root / ".next" / "BUILD_ID").write_text("x")
    return root


def _tarball(path: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def test_a_workspace_round_trips_without_installs_or_build_output(tmp_path: Path) -> None:
    source = _workspace(tmp_path / "src")
    archive = pack(source, tmp_path / "out" / "ws.tar.gz")
    extracted = unpack(archive, tmp_path / "dest")

    assert sorted(extracted) == ["app/home/page.tsx", "run-app.sh"]
    assert workspace_files(tmp_path / "dest") == ["app/home/page.tsx", "run-app.sh"]
    assert fingerprint(tmp_path / "dest") == fingerprint(source)
    assert (tmp_path / "dest" / "run-app.sh").stat().st_mode & 0o111 == 0o111


def test_only_the_files_allowed_are_extracted(tmp_path: Path) -> None:
    archive = pack(_workspace(tmp_path / "src"), tmp_path / "ws.tar.gz")
    extracted = unpack(archive, tmp_path / "dest", allow=lambda rel: rel.startswith("app/"))
    assert extracted == ["app/home/page.tsx"]
    assert not (tmp_path / "dest" / "run-app.sh").exists()


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (_file("/etc/appgen-evil"), "outside the workspace"),
        (_file("../evil"), "outside the workspace"),
        (_file("app/../../evil"), "outside the workspace"),
        (_link("app/link", "/etc/passwd"), "not a plain file"),
        (_link("app/link", "../../outside"), "not a plain file"),
        (_link("app/inside", "page.tsx"), "not a plain file"),
        (_link("app/hard", "/etc/passwd", tarfile.LNKTYPE), "not a plain file"),
        (_link("dev", "", tarfile.CHRTYPE), "not a plain file"),
        (_link("fifo", "", tarfile.FIFOTYPE), "not a plain file"),
    ],
)
def test_extraction_refuses_members_that_could_leave_the_workspace(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None], why: str
) -> None:
    archive = _tarball(tmp_path / "evil.tar.gz", _file("app/ok.txt"), member)
    dest = tmp_path / "dest"
    with pytest.raises(StepFailed) as refused:
        unpack(archive, dest)
    assert refused.value.code == "unsafe_archive"
    assert why in refused.value.message
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "outside").exists()
    assert not (dest / "app" / "link").exists() and not (dest / "app" / "hard").exists()


def test_a_refused_member_is_refused_even_when_allow_would_skip_it(tmp_path: Path) -> None:
    archive = _tarball(tmp_path / "evil.tar.gz", _file("../evil"))
    with pytest.raises(StepFailed) as refused:
        unpack(archive, tmp_path / "dest", allow=lambda rel: False)
    assert refused.value.code == "unsafe_archive"


def test_extraction_through_a_directory_that_links_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "app").symlink_to(outside, target_is_directory=True)
    archive = _tarball(tmp_path / "evil.tar.gz", _file("app/escaped.txt", b"escaped"))

    with pytest.raises(StepFailed) as refused:
        unpack(archive, dest)
    assert refused.value.code == "unsafe_archive"
    assert list(outside.iterdir()) == []


def test_links_in_a_workspace_are_not_packed(tmp_path: Path) -> None:
    source = _workspace(tmp_path / "src")
    (source / "app" / "secret").symlink_to("/etc/passwd")
    archive = pack(source, tmp_path / "ws.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "app/secret" not in names
    assert "app/home/page.tsx" in names
