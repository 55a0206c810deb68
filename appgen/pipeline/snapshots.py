"""Workspace snapshots and page bundles: gzip'd tarballs that carry a workspace between tasks through the
scratch store (tasks may run on different instances), and their names there, defined once for the steps
that write and read them and the sweep that deletes them:

scaffold  -> scaffold.tar.gz            page      -> pages/<pageId>.tar.gz (only the page's own files)
integrate -> workspace-0.tar.gz         fix n     -> workspace-n.tar.gz (validate n saves a cleaned one)
validate  -> preview-shots.tar.gz (the previews' screenshots, taken once per job: `preview_shots.py`)

all under jobs/<jobId>/ in the scratch bucket. Extraction refuses absolute paths, `..`, links and
anything else that could leave the workspace.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from uuid import UUID

from appgen.errors import StepFailed
from appgen.policy import ErrorCode

# Never carried between tasks or shipped: installs and build output are reproducible from the source.
EXCLUDED_DIRS = frozenset({"node_modules", ".next", ".git", ".turbo", ".cache"})

SCAFFOLD = "scaffold.tar.gz"
PREVIEW_SHOTS = "preview-shots.tar.gz"


def page_bundle(page_id: str) -> str:
    return f"pages/{page_id}.tar.gz"


def workspace_snapshot(round_: int) -> str:
    return f"workspace-{round_}.tar.gz"


def job_snapshots(page_ids: Iterable[str], fix_round: int) -> list[str]:
    """Every snapshot a job that reached `fix_round` may have written."""
    return [
        SCAFFOLD,
        PREVIEW_SHOTS,
        *(page_bundle(page_id) for page_id in page_ids),
        *(workspace_snapshot(n) for n in range(fix_round + 1)),
    ]


def scratch_key(job_id: UUID, name: str) -> str:
    """Where a job's snapshot `name` lives in the scratch bucket."""
    return f"jobs/{job_id}/{name}"


def workspace_files(root: Path) -> list[str]:
    """Relative posix paths of the regular files of a workspace, without excluded directories."""
    files: list[str] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in EXCLUDED_DIRS for part in rel.parts):
            continue
        if path.is_file() and not path.is_symlink():
            files.append(rel.as_posix())
    return files


def fingerprint(root: Path) -> dict[str, str]:
    """SHA-256 of every workspace file, to see what an agent changed."""
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in workspace_files(root)}


def pack(
    root: Path, dest: Path, files: Iterable[str] | None = None, extra: Mapping[str, bytes] | None = None
) -> Path:
    """Write `files` (default: the whole workspace) of `root` into the tarball `dest`, then the `extra`
    members (name -> content), which are no file of `root`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as tar:
        for rel in workspace_files(root) if files is None else files:
            tar.add(root / rel, arcname=rel, recursive=False)
        for name, content in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return dest


def unpack(archive: Path, root: Path, allow: Callable[[str], bool] | None = None) -> list[str]:
    """Extract a snapshot into `root`; returns the extracted paths. Members outside `root`, links and
    devices are refused; members `allow` rejects are skipped."""
    root.mkdir(parents=True, exist_ok=True)
    extracted: list[str] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = _safe_name(member)
            if allow is not None and not allow(name):
                continue
            try:
                tar.extract(member, root, filter="data")
            except tarfile.FilterError as exc:  # e.g. a directory of `root` that is a link leading out
                raise StepFailed(
                    f"refusing archive member outside the workspace: {member.name!r}",
                    code=ErrorCode.UNSAFE_ARCHIVE,
                ) from exc
            extracted.append(name)
    return extracted


def _safe_name(member: tarfile.TarInfo) -> str:
    pure = PurePosixPath(member.name)
    if pure.is_absolute() or ".." in pure.parts or not member.name:
        raise StepFailed(
            f"refusing archive member outside the workspace: {member.name!r}", code=ErrorCode.UNSAFE_ARCHIVE
        )
    if not (member.isfile() or member.isdir()):
        raise StepFailed(
            f"refusing archive member that is not a plain file: {member.name!r}",
            code=ErrorCode.UNSAFE_ARCHIVE,
        )
    return pure.as_posix()
