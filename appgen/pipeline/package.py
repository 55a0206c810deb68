"""The package step: the last guardrail check, required files (with `run-app.sh` made executable if an
agent lost the bit), the build report `appgen-report.json` with its side-by-side images, the ZIP (without
installs, build output or pipeline internals), the 350 MB limit, SHA-256, upload to the artifact store, and the artifact recorded in
the control plane. The guardrails themselves are in `guard.py`."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from appgen.errors import NotFound, StepFailed
from appgen.pipeline import guard
from appgen.pipeline.context import StepContext
from appgen.pipeline.fidelity import IMAGES_DIR, visual_snapshot
from appgen.pipeline.report import REPORT_NAME, build_report, report_bytes
from appgen.pipeline.snapshots import workspace_files
from appgen.policy import POLICY, ErrorCode
from appgen.storage import ARTIFACT_BUCKET, StoredObject, sha256_file

REQUIRED_FILES = ("package.json", "README.md", ".env.example", "run-app.sh", "run-app.bat", "Dockerfile")
EXECUTABLES = ("run-app.sh",)
# Internal to the pipeline or to a tool, never shipped (installs and build output are excluded already).
# `appgen-report/` holds only what the validate step drew (`fidelity.py`), never an agent's files of that name.
NOT_SHIPPED = (".agent/", ".gemini/", "GEMINI.md", REPORT_NAME, f"{IMAGES_DIR}/")


def artifact_path(ctx: StepContext) -> str:
    task = ctx.task
    return f"{task.owner_id}/{task.project_id}/{task.job_id}/app.zip"


def guardrail_violations(root: Path) -> list[str]:
    """Everything the plan forbids in a generated app: ORMs, schema migrations, DB models, secrets."""
    return guard.violations(root)


def build_zip(root: Path, dest: Path, extra: dict[str, bytes] | None = None) -> Path:
    """ZIP of the workspace without installs, build output or pipeline internals, plus `extra` files
    (name -> content) at its root; keeps executable bits."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for rel in workspace_files(root):
            if rel.startswith(NOT_SHIPPED):
                continue
            path = root / rel
            info = zipfile.ZipInfo.from_file(path, arcname=rel)
            info.external_attr = (stat.S_IFREG | (path.stat().st_mode & 0o777)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as handle:
                archive.writestr(info, handle.read())
        for name, content in (extra or {}).items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return dest


def check_files(ctx: StepContext, root: Path) -> None:
    """Required files present, executables executable, nothing the plan forbids."""
    cleaned = guard.enforce(root, ctx.services.settings.starter_dir)
    if cleaned.changed:  # validate cleaned this round already: only a bug or a race gets here
        ctx.log(f"guardrails at packaging: {cleaned.note()}", "warning")
    violations = guardrail_violations(root)
    if violations:
        raise StepFailed(
            "The generated app breaks the plan's rules, so it was not packaged:\n- "
            + "\n- ".join(violations),
            code=ErrorCode.GUARDRAIL_VIOLATION,
        )
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise StepFailed(
            f"The generated app is missing required files: {', '.join(missing)}", code=ErrorCode.MISSING_FILES
        )
    for name in EXECUTABLES:
        path = root / name
        mode = path.stat().st_mode
        if mode & 0o111 != 0o111:
            path.chmod(mode | 0o755)
            ctx.log(f"{name} was not executable; set its executable bit")


def _report_images(ctx: StepContext) -> dict[str, bytes]:
    """The side-by-side images of the round being packaged (none when it was not measured)."""
    images = ctx.workdir / "visual"
    try:
        names = ctx.restore_snapshot(visual_snapshot(int(ctx.task.key)), images)
    except NotFound:
        return {}
    return {
        name: (images / name).read_bytes()
        for name in sorted(names)
        if name.startswith(f"{IMAGES_DIR}/") and name.endswith(".png") and (images / name).is_file()
    }


def package_workspace(ctx: StepContext, root: Path) -> StoredObject:
    check_files(ctx, root)
    report = report_bytes(build_report(ctx))
    archive = build_zip(root, ctx.workdir / "app.zip", {REPORT_NAME: report, **_report_images(ctx)})
    local = sha256_file(archive)
    if local.size_bytes > POLICY.max_artifact_bytes:
        raise StepFailed(
            f"The app's ZIP is {local.size_bytes} bytes; the limit is {POLICY.max_artifact_bytes}.",
            code=ErrorCode.ARTIFACT_TOO_LARGE,
        )
    path = artifact_path(ctx)
    stored = ctx.services.artifacts.upload(ARTIFACT_BUCKET, path, archive)
    if stored != local:
        raise StepFailed("the uploaded ZIP does not match the packaged one", code=ErrorCode.STORAGE_FAILED)
    ctx.services.control_plane.record_artifact(
        ctx.task.job_id, ARTIFACT_BUCKET, path, stored.size_bytes, stored.checksum
    )
    return stored
