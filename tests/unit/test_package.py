"""Guardrails, the package checks, the ZIP and the build report's version figures, on real workspaces."""

from __future__ import annotations

import dataclasses
import json
import stat
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from appgen.errors import NotFound, StepFailed
from appgen.pipeline import guard, package
from appgen.pipeline.context import StepContext
from appgen.pipeline.package import REQUIRED_FILES, build_zip, check_files
from appgen.pipeline.report import build_report, cli_version, report_bytes, spec_hash, template_version
from appgen.policy import POLICY
from appgen.redact import REDACTED, register_secret
from appgen.settings import REPO_ROOT, Settings

SECRET = "test-key-unit-0123456789abcdef"
STARTER = REPO_ROOT / "worker_container" / "starter"


@pytest.fixture(autouse=True)
def _secret() -> None:
    register_secret(SECRET)


class _Ctx:
    def __init__(self) -> None:
        self.logs: list[tuple[str, str]] = []
        self.services = SimpleNamespace(settings=Settings(starter_dir=STARTER))

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
        "npm-shrinkwrap.json": '{"lockfileVersion": 3, "packages": {}}\n',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_enforce_restores_the_dependencies_removes_database_artifacts_and_scrubs_secrets(
    tmp_path: Path,
) -> None:
    root = _app(tmp_path / "ws")
    report = guard.enforce(root, STARTER)

    # The dependency set is the starter's: an agent's package.json, a missing lockfile and a shrinkwrap
    # (which would override the lockfile) are all undone.
    assert report.restored == ["package.json", "package-lock.json", "npm-shrinkwrap.json"]
    for name in ("package.json", "package-lock.json"):
        assert (root / name).read_bytes() == (STARTER / name).read_bytes()
    assert not (root / "npm-shrinkwrap.json").exists()

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
    assert sorted(report.scrubbed) == [".env.example", "lib/config.ts"]
    assert (root / "lib/config.ts").read_text() == f'export const GEMINI_API_KEY = "{REDACTED}";\n'
    assert SECRET not in (root / ".env.example").read_text()
    assert "prisma/schema.prisma" in report.note() and "lib/config.ts" in report.note()
    assert "restored the template's dependency files" in report.note()
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
    assert not guard.enforce(root, STARTER).changed


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


# -- the report and the package step, over a control plane that answers from rows ------------------------
class _Plane:
    """Answers the two reads the report makes with fixed rows; any write fails the test."""

    def __init__(self, tasks: list[dict[str, Any]], warnings: list[dict[str, str]]):
        self.tasks, self.warnings = tasks, warnings

    def list_job_tasks(self, job_id: uuid.UUID) -> list[dict[str, Any]]:
        return self.tasks

    def get_job(self, caller: object, job_id: uuid.UUID) -> dict[str, Any]:
        return {"warnings": self.warnings}


def _row(
    kind: str, key: str, result: dict[str, Any], tokens: int = 0, status: str = "succeeded"
) -> dict[str, Any]:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "task_id": uuid.uuid4(),
        "kind": kind,
        "key": key,
        "status": status,
        "attempt": 1,
        "result": result,
        "error_code": None,
        "error_message": None,
        "tokens_input": tokens,
        "tokens_output": tokens // 10,
        "started_at": started,
        "finished_at": started + timedelta(seconds=12.34),
    }


def _package_ctx(tmp_path: Path, tasks: list[dict[str, Any]]) -> SimpleNamespace:
    package_row = _row("package", "1", {}, status="running")
    task = SimpleNamespace(
        task_id=package_row["task_id"],
        job_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        key="1",
        generation_spec={"projectId": "p", "pages": [{"pageId": "home"}]},
    )
    plane = _Plane([*tasks, package_row], [{"code": "lint_missing", "message": "no lint"}])
    services = SimpleNamespace(settings=Settings(gemini_model="gemini-2.5-flash"), control_plane=plane)
    ctx = _Ctx()
    return SimpleNamespace(
        task=task, services=services, workdir=tmp_path, log=ctx.log, restore_snapshot=_no_snapshot
    )


def _no_snapshot(name: str, root: Path, allow: Any = None) -> list[str]:
    raise NotFound(f"no object {name}")


def test_the_report_lists_steps_fix_rounds_tokens_and_fidelity_without_secrets(tmp_path: Path) -> None:
    failure = {
        "outcome": "failed",
        "command": "npm run build",
        "exitCode": 1,
        "signature": "abc",
        "summary": "npm run build: Error: Unexpected token",
        "output": "./components/home/Page.tsx:6:9\nError: Unexpected token",
        "guard": {"restored": [], "removed": ["prisma/schema.prisma"], "scrubbed": []},
    }
    fidelity = [{"pageId": "home", "textRatio": 1.0, "ok": True}]
    tasks = [
        _row("scaffold", "", {"pages": ["home"]}),
        _row("page", "home", {"changed": ["components/home/Page.tsx"]}, tokens=100),
        _row("integrate", "", {"changed": []}, tokens=200),
        _row("validate", "0", failure),
        _row("fix", "1", {"diffSummary": f"+const key = '{SECRET}';"}, tokens=300),
        _row("validate", "1", {"outcome": "passed", "fidelity": fidelity}),
    ]
    ctx = _package_ctx(tmp_path, tasks)
    report = build_report(cast(StepContext, ctx))

    assert [(s["kind"], s["key"]) for s in report["steps"]] == [
        ("scaffold", ""),
        ("page", "home"),
        ("integrate", ""),
        ("validate", "0"),
        ("fix", "1"),
        ("validate", "1"),
    ]  # not the package step writing the report
    assert report["steps"][3]["result"] == {k: v for k, v in failure.items() if k not in ("output", "guard")}
    assert report["steps"][1]["durationSeconds"] == 12.3
    assert report["tokens"] == {"input": 600, "output": 60, "total": 660}
    assert report["fixRounds"] == [
        {
            "round": 1,
            "failure": {k: failure[k] for k in ("command", "exitCode", "signature", "summary", "output")},
            "diffSummary": f"+const key = '{SECRET}';",
            "tokens": {"input": 300, "output": 30},
            "validationAfter": "passed",
        }
    ]
    assert report["guardrails"] == [{"round": 0, **failure["guard"]}]
    assert report["fidelity"] == fidelity
    assert report["warnings"] == [{"code": "lint_missing", "message": "no lint"}]
    assert report["model"] == "gemini-2.5-flash"
    assert report["specSha256"] == spec_hash(ctx.task.generation_spec)

    shipped = report_bytes(report).decode()
    assert SECRET not in shipped and REDACTED in shipped
    assert json.loads(shipped)["tokens"]["total"] == 660


def test_a_zip_over_the_limit_fails_artifact_too_large_before_any_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    for name in REQUIRED_FILES:
        (root / name).write_text("{}\n" if name == "package.json" else f"{name}\n")
    (root / "run-app.sh").chmod(0o755)
    ctx = _package_ctx(tmp_path, [])
    monkeypatch.setattr(package, "POLICY", dataclasses.replace(POLICY, max_artifact_bytes=100))

    with pytest.raises(StepFailed) as refused:
        package.package_workspace(cast(StepContext, ctx), root)  # no artifact store: it must not upload
    assert refused.value.code == "artifact_too_large"
    assert "the limit is 100" in refused.value.message


def test_the_zip_ships_the_validate_steps_images_and_never_an_agents_own_appgen_report(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    (root / "appgen-report").mkdir(parents=True)
    for name in REQUIRED_FILES:
        (root / name).write_text("{}\n" if name == "package.json" else f"{name}\n")
    (root / "run-app.sh").chmod(0o755)
    (root / "appgen-report" / "home-desktop.png").write_bytes(b"agent-made")
    (root / "appgen-report" / "extra.txt").write_text("agent-made")
    ctx = _package_ctx(tmp_path, [])
    requested = []

    def restore(name: str, dest: Path, allow: Any = None) -> list[str]:
        requested.append(name)
        (dest / "appgen-report").mkdir(parents=True)
        (dest / "appgen-report" / "home-desktop.png").write_bytes(b"\x89PNG measured")
        return ["appgen-report/home-desktop.png"]

    ctx.restore_snapshot = restore
    ctx.services.artifacts = SimpleNamespace(upload=lambda *a: None)
    with pytest.raises(StepFailed, match="does not match"):  # a store that keeps nothing: the ZIP is there
        package.package_workspace(cast(StepContext, ctx), root)
    assert requested == ["visual-1.tar.gz"]
    with zipfile.ZipFile(tmp_path / "app.zip") as zipped:
        assert zipped.read("appgen-report/home-desktop.png") == b"\x89PNG measured"
        assert "appgen-report/extra.txt" not in zipped.namelist()
