"""Guardrails of the plan: a generated app has no database layer (no ORM, schema migrations or DB models),
holds no secret value of the service, and depends on exactly the starter's packages.

The design, chosen to be the simplest one that never ships a violation silently:

- The validate step calls `enforce` first, on every round. It *restores* the protected files
  (`package.json`, `package-lock.json`) from the starter and removes an `npm-shrinkwrap.json` (which
  would replace the lockfile for whoever installs the ZIP): agents cannot change the dependencies, so an
  ORM package or a hostile install script never gets in, and the app ships with the lockfile it was
  built with. It *removes* what can only be a database artifact: ORM and schema files (`prisma/`,
  `*.prisma`, `drizzle.config.*`, `ormconfig.*`, …), schema migrations (`migrations/`, `*.sql`) and
  model files (`*.entity.ts`, `models/` beside the source); and it *scrubs* every secret value the
  worker knows (`appgen.redact.known_secrets()`: the Gemini key, the internal secret, …), replacing it
  in place by a placeholder, so the file keeps its shape. What it did is logged (paths only) and becomes
  a job warning, and the cleaned workspace replaces the round's snapshot, so the fixer and the package
  step only ever see the cleaned tree.
- Code that *uses* an ORM is not deleted (that would hide broken behaviour): `orm_imports` lists it and
  the validate round fails with that list as its output, which asks the fixer for a round. A removal that
  breaks an import fails `npm run build` the same way. Either failure carries a note of what the guard
  removed. When no fix round remains the job fails with that reason (`finish_task`: build_failed).
- The package step calls `enforce` again (restoring and scrubbing are idempotent and removing an ORM file
  cannot break a build that already passed without it) and then refuses to package if `violations` is
  not empty — a last check that should never fire.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from appgen.pipeline.snapshots import workspace_files
from appgen.redact import REDACTED, known_secrets

DEPENDENCY_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
ORM_PACKAGES = re.compile(
    r"^(prisma|@prisma/.+|drizzle-orm|drizzle-kit|typeorm|sequelize|sequelize-cli|sequelize-typescript|"
    r"mongoose|knex|kysely|@mikro-orm/.+|objection|bookshelf|waterline)$"
)
# Database artifacts by path. Directories only beside the source (not route segments under app/ or a
# page's components/, where a page called "models" is legitimate).
FORBIDDEN_PATHS = re.compile(
    r"^(?:(?:src|lib|server|db|database|supabase)/)?(?:prisma|drizzle|migrations|models|entities)/"
    r"|(?:^|/)(?:schema\.prisma|[^/]+\.prisma|[^/]+\.sql)$"
    r"|(?:^|/)(?:drizzle|ormconfig|knexfile|\.sequelizerc)(?:\.config)?(?:\.[cm]?[jt]s|\.json)?$"
    r"|(?:^|/)[^/]+\.(?:entity|model)\.[cm]?[jt]sx?$"
)
_SOURCE = re.compile(r"\.[cm]?[jt]sx?$")
_ORM_IMPORT = re.compile(
    r"""(?:\bfrom\s*|\brequire\s*\(\s*|\bimport\s*\(\s*|^\s*import\s+)["']"""
    r"""(prisma|@prisma/[^"'/]+|drizzle-orm|drizzle-kit|typeorm|sequelize(?:-typescript)?|mongoose|knex|"""
    r"""kysely|@mikro-orm/[^"'/]+|objection|bookshelf|waterline)(?:/[^"']*)?["']""",
    re.MULTILINE,
)
GUARD_COMMAND = "appgen guardrails"
# The dependency set: always the starter's. A shrinkwrap would override the lockfile, so it goes.
PROTECTED_FILES = ("package.json", "package-lock.json")
LOCKFILE_OVERRIDES = ("npm-shrinkwrap.json",)


@dataclass
class GuardReport:
    restored: list[str] = field(default_factory=list)  # protected files put back (or overrides removed)
    removed: list[str] = field(default_factory=list)  # workspace files deleted
    scrubbed: list[str] = field(default_factory=list)  # files a secret value was replaced in

    @property
    def changed(self) -> bool:
        return bool(self.restored or self.removed or self.scrubbed)

    def note(self) -> str:
        """What the guard did, in words the fixer and the owner read."""
        parts = []
        if self.restored:
            parts.append(
                "restored the template's dependency files (agents cannot change the dependencies): "
                + ", ".join(self.restored)
            )
        if self.removed:
            parts.append("removed files the plan forbids (no database layer): " + ", ".join(self.removed))
        if self.scrubbed:
            parts.append(
                "replaced a secret value of the service with a placeholder in: " + ", ".join(self.scrubbed)
            )
        return "; ".join(parts)

    def as_dict(self) -> dict[str, list[str]]:
        return {"restored": self.restored, "removed": self.removed, "scrubbed": self.scrubbed}


def enforce(root: Path, starter_dir: Path) -> GuardReport:
    """Restore the protected files from `starter_dir`, remove database artifacts and scrub secret values
    from the workspace; report what changed."""
    report = GuardReport(restored=restore_protected(root, starter_dir))
    for rel in workspace_files(root):
        if FORBIDDEN_PATHS.search(rel):
            (root / rel).unlink()
            report.removed.append(rel)
    _prune_empty_dirs(root, report.removed)
    report.scrubbed = scrub_secrets(root)
    return report


def restore_protected(root: Path, starter_dir: Path) -> list[str]:
    """Make `package.json` and `package-lock.json` the starter's and remove lockfile overrides; the
    names that were different."""
    changed = []
    for name in PROTECTED_FILES:
        original = (starter_dir / name).read_bytes()
        path = root / name
        if path.is_file() and not path.is_symlink() and path.read_bytes() == original:
            continue
        _remove(path)
        path.write_bytes(original)
        changed.append(name)
    for name in LOCKFILE_OVERRIDES:
        if (root / name).exists() or (root / name).is_symlink():
            _remove(root / name)
            changed.append(name)
    return changed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def scrub_secrets(root: Path) -> list[str]:
    """Replace every known secret value in the workspace's files (any file, text or not)."""
    secrets = [s.encode() for s in sorted(known_secrets(), key=len, reverse=True)]
    if not secrets:
        return []
    scrubbed = []
    for rel in workspace_files(root):
        path = root / rel
        data = path.read_bytes()
        if not any(secret in data for secret in secrets):
            continue
        for secret in secrets:
            data = data.replace(secret, REDACTED.encode())
        path.write_bytes(data)
        scrubbed.append(rel)
    return scrubbed


def orm_imports(root: Path) -> list[str]:
    """Source files that import an ORM package, as `path: import` lines (paths first, for the fixer)."""
    found = []
    for rel in workspace_files(root):
        if not _SOURCE.search(rel) or rel.startswith(".agent/"):
            continue
        text = (root / rel).read_text(errors="replace")
        names = sorted({m.group(1) for m in _ORM_IMPORT.finditer(text)})
        if names:
            found.append(f"{rel}: imports {', '.join(names)}")
    return found


def guard_failure_output(imports: list[str]) -> str:
    return (
        "error: the app uses a database layer, which the plan does not allow (no ORM, no DB models, no "
        "schema migrations). Remove the ORM usage from these files and keep data in memory or in plain "
        "module constants behind the API routes:\n" + "\n".join(f"./{line}" for line in imports)
    )


def violations(root: Path) -> list[str]:
    """Everything the plan forbids still in the workspace (empty after `enforce` and a passing round)."""
    files = workspace_files(root)
    found = [f"{rel}: database artifacts are not allowed" for rel in files if FORBIDDEN_PATHS.search(rel)]
    manifest = _manifest(root / "package.json")
    for section in DEPENDENCY_SECTIONS:
        for name in manifest.get(section) or {}:
            if ORM_PACKAGES.match(name):
                found.append(f"package.json: {section} must not include the ORM/database package {name}")
    found += [f"{line} (ORMs are not allowed)" for line in orm_imports(root)]
    secrets = [s.encode() for s in known_secrets()]
    for rel in files:
        data = (root / rel).read_bytes()
        if any(secret in data for secret in secrets):
            found.append(f"{rel}: contains a secret value of the service")
    return found


def _manifest(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _prune_empty_dirs(root: Path, removed: list[str]) -> None:
    for rel in sorted({str(Path(r).parent) for r in removed}, key=len, reverse=True):
        directory = root / rel
        while directory != root and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
            directory = directory.parent
