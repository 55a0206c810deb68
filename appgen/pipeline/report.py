"""`appgen-report.json`, the build report at the root of every ZIP: what produced the app (spec hash, model,
Gemini CLI and template versions), how each step went, every fix round with its failing output and diff,
the warnings, the token usage and how faithful each page is to its preview.

It is assembled from the job's task rows (each step's stored result) when the package step runs, so it
needs nothing carried between tasks, and it goes through redaction like any other output.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from appgen.gateway import Caller
from appgen.pipeline.context import StepContext
from appgen.pipeline.snapshots import workspace_files
from appgen.redact import redact

REPORT_NAME = "appgen-report.json"
SCHEMA_VERSION = 1
CLI_PACKAGE = "@google/gemini-cli"
# Step results too bulky for the steps list; fix rounds carry the failing output in full.
_BULKY = ("output", "diffSummary", "fidelity", "guard")


def build_report(ctx: StepContext) -> dict[str, Any]:
    settings = ctx.services.settings
    control_plane = ctx.services.control_plane
    # The steps before this one: the package step is still running while it writes the report.
    this = str(ctx.task.task_id)
    tasks = [t for t in control_plane.list_job_tasks(ctx.task.job_id) if str(t["task_id"]) != this]
    job = control_plane.get_job(Caller.service(), ctx.task.job_id)
    validations = {_round(t): t for t in tasks if t["kind"] == "validate" and t["status"] == "succeeded"}
    last = validations.get(int(ctx.task.key)) or {}
    tokens_in = sum(int(t["tokens_input"] or 0) for t in tasks)
    tokens_out = sum(int(t["tokens_output"] or 0) for t in tasks)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "jobId": str(ctx.task.job_id),
        "projectId": str(ctx.task.project_id),
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "specSha256": spec_hash(ctx.task.generation_spec),
        "model": "offline stand-in" if settings.offline_model else settings.gemini_model,
        "geminiCli": {"package": CLI_PACKAGE, "version": cli_version(settings.gemini_bin)},
        "template": template_version(settings.starter_dir),
        "steps": [_step(t) for t in tasks],
        "fixRounds": [
            _fix_round(t, validations.get(_round(t) - 1), validations.get(_round(t)))
            for t in tasks
            if t["kind"] == "fix" and t["status"] == "succeeded"
        ],
        "guardrails": [
            {"round": r, **(v["result"] or {}).get("guard", {})}
            for r, v in sorted(validations.items())
            if (v["result"] or {}).get("guard")
        ],
        "warnings": [{"code": w.get("code"), "message": w.get("message")} for w in job.get("warnings") or []],
        "tokens": {"input": tokens_in, "output": tokens_out, "total": tokens_in + tokens_out},
        "fidelity": (last.get("result") or {}).get("fidelity", []),
    }


def report_bytes(report: dict[str, Any]) -> bytes:
    return redact(json.dumps(report, indent=2, sort_keys=False, default=str)).encode() + b"\n"


def spec_hash(spec: dict[str, Any]) -> str:
    """SHA-256 of the spec in canonical JSON (sorted keys, no spaces): the same design, the same hash."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@cache
def cli_version(gemini_bin: Path) -> str:
    """The pinned CLI's version from its package.json, found from the `gemini` executable's real path."""
    for parent in gemini_bin.resolve().parents:
        manifest = parent / "package.json"
        if manifest.is_file():
            data = json.loads(manifest.read_text())
            if data.get("name") == CLI_PACKAGE:
                return str(data.get("version", "unknown"))
    fallback = gemini_bin.parent.parent / CLI_PACKAGE / "package.json"
    if fallback.is_file():
        return str(json.loads(fallback.read_text()).get("version", "unknown"))
    return "unknown"


@cache
def template_version(starter_dir: Path) -> dict[str, str]:
    """The starter's own version plus a hash of its files: edits without a version bump still show."""
    digest = hashlib.sha256()
    for rel in workspace_files(starter_dir):
        digest.update(rel.encode() + b"\0" + (starter_dir / rel).read_bytes() + b"\0")
    manifest = starter_dir / "package.json"
    version = json.loads(manifest.read_text()).get("version", "unknown") if manifest.is_file() else "unknown"
    return {"version": str(version), "sha256": digest.hexdigest()}


def _round(task: dict[str, Any]) -> int:
    try:
        return int(task["key"])
    except (TypeError, ValueError):
        return -1


def _step(task: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in (task["result"] or {}).items() if k not in _BULKY}
    started, finished = task.get("started_at"), task.get("finished_at")
    duration = None
    if isinstance(started, datetime) and isinstance(finished, datetime):
        duration = (finished - started).total_seconds()
    return {
        "kind": task["kind"],
        "key": task["key"],
        "status": task["status"],
        "attempts": task["attempt"],
        "durationSeconds": round(duration, 1) if duration is not None else None,
        "tokens": {"input": int(task["tokens_input"] or 0), "output": int(task["tokens_output"] or 0)},
        "result": result,
        "error": {"code": task["error_code"], "message": task["error_message"]}
        if task.get("error_code")
        else None,
    }


def _fix_round(
    fix: dict[str, Any], failed: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any]:
    failure = (failed or {}).get("result") or {}
    outcome = ((after or {}).get("result") or {}).get("outcome")
    return {
        "round": _round(fix),
        "failure": {k: failure.get(k) for k in ("command", "exitCode", "signature", "summary", "output")},
        "diffSummary": (fix["result"] or {}).get("diffSummary", ""),
        "tokens": {"input": int(fix["tokens_input"] or 0), "output": int(fix["tokens_output"] or 0)},
        "validationAfter": outcome,
    }
