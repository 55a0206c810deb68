"""Guardrails, the package checks, the ZIP and the build report's version figures, on real workspaces."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path
from typing import Any, cast

import pytest

from appgen.errors import StepFailed
from appgen.pipeline import guard
from appgen.pipeline.context import StepContext
from appgen.pipeline.package import REQUIRED_FILES, build_zip, check_files
from appgen.pipeline.report import cli_version, spec_hash, template_version
from appgen.redact import REDACTED, register_secret
from appgen.settings import REPO_ROOT

SECRET = "test-key-unit-0123456789abcdef"
STARTER = REPO_ROOT / "worker_container" / "starter"


@pytest.fixture(autouse=True)
def _secret() -> None:
    register_secret(SECRET)


class _Ctx:
    def __init__(self) -> None:
        self.logs: list[tuple[str, str]] = []

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append((level, message))


def _app(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in REQUIRED_FILES:
        (root / name).write_text(f"{name}\n")
    (root / "package.json").write_text(
        json.dumps(
            {
                "name": "generated-app",
                "dependencies": {"next": "16.4.6", "@prisma/client": "6.0.0", "mongoose": "8.0.0"},
                "devDependencies": {"prisma": "6.0.0", "typescript": "5.9.3"},
            }
        )
    )
    (root / "run-app.sh").chmod(0o755)
    files = {
        "app/page.tsx": "export default function Page() { return <main>Home</main>; }\n",
        "app/models/page.tsx": "export default function Models() { return <main>Our models</main>; }\n",
        "components/models/Page.tsx": "export const x = 1;\n",
        "prisma/schema.prisma": "model User { id Int @id }\n",
        "prisma/migrations/001_init/migration.sql": "create table users ();\n",
        "drizzle.config.ts": "export default {};\n",
        "lib/models/user.ts": "export type User = { id: number };\n",
        "lib/user.entity.ts": "export class User {}\n",
        "supabase/migrations/001.sql": "create table x ();\n",
        "lib/db.ts": 'import { PrismaClient } from "@prisma/client";\nexport const db = new PrismaClient();\n',
        "lib/orm.js": "const mongoose = require('mongoose');\nmodule.exports = mongoose;\n",
        "lib/config.ts": f'export const GEMINI_API_KEY = "{SECRET}";\n',
        ".env.example": f"GEMINI_API_KEY={SECRET}\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_enforce_removes_database_artifacts_and_scrubs_secrets(tmp_path: Path) -> None:
    root = _app(tmp_path / "ws")
    report = guard.enforce(root)

    assert sorted(report.removed) == [
        "drizzle.config.ts",
        "lib/models/user.ts",
        "lib/user.entity.ts",
        "prisma/migrations/001_init/migration.sql",
        "prisma/schema.prisma",
        "supabase/migrations/001.sql",
    ]
    assert not (root / "prisma").exists() and not (root / "lib" / "models").exists()
    # Route segments and page folders that happen to be called "models" are the app's own pages.
    assert (root / "app/models/page.tsx").is_file() and (root / "components/models/Page.tsx").is_file()
    assert sorted(report.dependencies) == [
        "dependencies: @prisma/client",
        "dependencies: mongoose",
        "devDependencies: prisma",
    ]
    manifest = json.loads((root / "package.json").read_text())
    assert manifest["dependencies"] == {"next": "16.4.6"}
    assert manifest["devDependencies"] == {"typescript": "5.9.3"}
    assert sorted(report.scrubbed) == [".env.example", "lib/config.ts"]
    assert (root / "lib/config.ts").read_text() == f'export const GEMINI_API_KEY = "{REDACTED}";\n'
    assert SECRET not in (root / ".env.example").read_text()
    assert "prisma/schema.prisma" in report.note() and "lib/config.ts" in report.note()
    assert SECRET not in report.note()

    # Code that uses an ORM stays for the fixer, and is what still violates the plan.
    assert guard.orm_imports(root) == ["lib/db.ts: imports @prisma/client", "lib/orm.js: imports mongoose"]
    assert guard.violations(root) == [
        "lib/db.ts: imports @prisma/client (ORMs are not allowed)",
        "lib/orm.js: imports mongoose (ORMs are not allowed)",
    ]
    output = guard.guard_failure_output(guard.orm_imports(root))
    assert "./lib/db.ts: imports @prisma/client" in output and output.startswith("error:")

    # A second pass finds nothing more to do: enforcing is idempotent.
    assert not guard.enforce(root).changed


def test_violations_name_every_kind_of_breach(tmp_path: Path) -> None:
    root = _app(tmp_path / "ws")
    found = "\n".join(guard.violations(root))
    for expected in (
        "prisma/schema.prisma: database artifacts are not allowed",
        "drizzle.config.ts: database artifacts are not allowed",
        "package.json: devDependencies must not include the ORM/database package prisma",
        "lib/config.ts: contains a secret value of the service",
    ):
        assert expected in found
    assert SECRET not in found


def test_a_clean_app_passes_the_checks_and_run_app_gets_its_executable_bit(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    for name in REQUIRED_FILES:
        (root / name).write_text("{}\n" if name == "package.json" else f"{name}\n")
    (root / "run-app.sh").chmod(0o644)
    ctx = _Ctx()
    check_files(cast(StepContext, ctx), root)
    assert (root / "run-app.sh").stat().st_mode & 0o111 == 0o111
    assert ("info", "run-app.sh was not executable; set its executable bit") in ctx.logs


def test_missing_files_and_leftover_violations_stop_packaging(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "package.json").write_text("{}")
    with pytest.raises(StepFailed) as missing:
        check_files(cast(StepContext, _Ctx()), root)
    assert missing.value.code == "missing_files"
    assert "README.md" in missing.value.message and "run-app.sh" in missing.value.message

    root = _app(tmp_path / "orm")
    ctx = _Ctx()
    with pytest.raises(StepFailed) as refused:
        check_files(cast(StepContext, ctx), root)
    assert refused.value.code == "guardrail_violation"
    assert "lib/db.ts: imports @prisma/client" in refused.value.message
    assert ctx.logs[0][0] == "warning" and "guardrails at packaging" in ctx.logs[0][1]


def test_the_zip_leaves_out_installs_build_output_and_pipeline_internals(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    for rel in (
        "package.json",
        "app/page.tsx",
        "run-app.sh",
        "node_modules/next/index.js",
        ".next/BUILD_ID",
        ".agent/input/spec.json",
        ".gemini/settings.json",
        "GEMINI.md",
        "appgen-report.json",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / "run-app.sh").chmod(0o755)
    archive = build_zip(root, tmp_path / "app.zip", {"appgen-report.json": b'{"schemaVersion": 1}\n'})

    with zipfile.ZipFile(archive) as zipped:
        names = sorted(zipped.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zipped.infolist()}
        report = zipped.read("appgen-report.json")
    assert names == ["app/page.tsx", "appgen-report.json", "package.json", "run-app.sh"]
    assert report == b'{"schemaVersion": 1}\n'
    assert modes["run-app.sh"] & stat.S_IXUSR and stat.S_ISREG(modes["run-app.sh"])


def test_report_versions_come_from_the_pinned_cli_and_the_starter() -> None:
    cli = json.loads(
        (REPO_ROOT / "worker_container/node_modules/@google/gemini-cli/package.json").read_text()
    )
    assert cli_version(REPO_ROOT / "worker_container/node_modules/.bin/gemini") == cli["version"]
    assert cli_version(REPO_ROOT / "no/such/bin/gemini") == "unknown"

    template = template_version(STARTER)
    assert template["version"] == json.loads((STARTER / "package.json").read_text())["version"]
    assert len(template["sha256"]) == 64


def test_the_spec_hash_ignores_key_order() -> None:
    first: dict[str, Any] = {"projectId": "p", "pages": [{"pageId": "a", "route": "/"}]}
    second: dict[str, Any] = {"pages": [{"route": "/", "pageId": "a"}], "projectId": "p"}
    assert spec_hash(first) == spec_hash(second)
    assert spec_hash(first) != spec_hash({**first, "projectId": "q"})
    assert len(spec_hash(first)) == 64
