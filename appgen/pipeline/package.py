"""The package step's checks and the ZIP: guardrails (no ORMs or DB models, no secrets), required files,
a size limit, SHA-256, upload to the artifact store, and the artifact recorded in the control plane."""

from __future__ import annotations

import json
import re
import stat
import zipfile
from pathlib import Path

from appgen.errors import StepFailed
from appgen.pipeline.context import StepContext
from appgen.pipeline.snapshots import workspace_files
from appgen.redact import known_secrets
from appgen.storage import ARTIFACT_BUCKET, StoredObject, sha256_file

MAX_ARTIFACT_BYTES = 350 * 1024 * 1024
REQUIRED_FILES = ("package.json", "README.md", ".env.example", "run-app.sh", "run-app.bat", "Dockerfile")
# Internal to the pipeline, never shipped.
NOT_SHIPPED = (".agent/", "GEMINI.md")

FORBIDDEN_DEPENDENCIES = re.compile(
    r"^(prisma|@prisma/.*|drizzle-orm|drizzle-kit|typeorm|sequelize|sequelize-cli|mongoose|knex|"
    r"@mikro-orm/.*|objection|bookshelf|waterline)$"
)
FORBIDDEN_PATHS = re.compile(
    r"(^|/)(prisma/|schema\.prisma$|drizzle(\.config\.[cm]?[jt]s)?(/|$)|migrations/|models?/|"
    r"ormconfig\.(json|[cm]?[jt]s)$|.*\.(entity|model)\.[cm]?[jt]sx?$)"
)


def artifact_path(ctx: StepContext) -> str:
    task = ctx.task
    return f"{task.owner_id}/{task.project_id}/{task.job_id}/app.zip"


def guardrail_violations(root: Path) -> list[str]:
    """Everything the plan forbids in a generated app: ORMs, schema migrations, DB models, secrets."""
    violations: list[str] = []
    files = workspace_files(root)
    for rel in files:
        if FORBIDDEN_PATHS.search(rel):
            violations.append(f"{rel}: database models, ORM files and schema migrations are not allowed")
    manifest = json.loads((root / "package.json").read_text()) if (root / "package.json").is_file() else {}
    for section in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
        for name in manifest.get(section, {}) or {}:
            if FORBIDDEN_DEPENDENCIES.match(name):
                violations.append(f"package.json: {section} must not include the ORM/database package {name}")
    secrets = known_secrets()
    for rel in files:
        text = (root / rel).read_bytes()
        if any(secret.encode() in text for secret in secrets):
            violations.append(f"{rel}: contains a secret value of the service")
    return violations


def build_zip(root: Path, dest: Path) -> Path:
    """ZIP of the workspace without installs, build output or pipeline internals; keeps executable bits."""
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
    return dest


def package_workspace(ctx: StepContext, root: Path) -> StoredObject:
    violations = guardrail_violations(root)
    if violations:
        raise StepFailed(
            "The generated app breaks the plan's rules, so it was not packaged:\n- "
            + "\n- ".join(violations),
            code="guardrail_violation",
        )
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise StepFailed(
            f"The generated app is missing required files: {', '.join(missing)}", code="missing_files"
        )
    archive = build_zip(root, ctx.workdir / "app.zip")
    local = sha256_file(archive)
    if local.size_bytes > MAX_ARTIFACT_BYTES:
        raise StepFailed(
            f"The app's ZIP is {local.size_bytes} bytes; the limit is {MAX_ARTIFACT_BYTES}.",
            code="artifact_too_large",
        )
    path = artifact_path(ctx)
    stored = ctx.services.artifacts.upload(ARTIFACT_BUCKET, path, archive)
    if stored != local:
        raise StepFailed(
            "the uploaded ZIP does not match the packaged one", code="storage_failed", transient=True
        )
    ctx.services.control_plane.record_artifact(
        ctx.task.job_id, ARTIFACT_BUCKET, path, stored.size_bytes, stored.checksum
    )
    return stored
