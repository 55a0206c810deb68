"""The validate step: does round n of the generated app install, build and lint?

It first applies the guardrails (`guard.py`: the starter's dependency files restored, database artifacts
removed, secret values scrubbed, the cleaned tree saved back as workspace-n; code still using an ORM
fails the round), then hands the workspace to the builder (`builder.py`: `npm ci` of the protected
files, `npm run build` and `npm run lint` in sandboxes that hold no secret and cannot reach the worker),
and on success measures how much of each preview survived into the built pages, in words, parts and
screenshots (`fidelity.py`), and which of their class names no stylesheet defines (`unstyled.py`). Its result (`passed`,
`failed` with the command's output and error signature, or `install_failed`) is what `finish_task` turns
into a fix round, the package step or a failed job.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from appgen.pipeline import fidelity, gate, guard, unstyled
from appgen.pipeline.builder import BuildResult
from appgen.pipeline.context import StepContext, StepOutcome
from appgen.pipeline.preview_shots import PreviewShots
from appgen.pipeline.snapshots import workspace_snapshot
from appgen.sandbox import CommandResult
from appgen.visual import render


def run_validate(ctx: StepContext) -> StepOutcome:
    snapshot = workspace_snapshot(int(ctx.task.key))
    ws = ctx.workdir / "ws"
    ctx.restore_snapshot(snapshot, ws)

    cleaned = _enforce_guardrails(ctx, ws, snapshot)
    extra: dict[str, object] = {"guard": cleaned.as_dict()} if cleaned.changed else {}
    orm_code = guard.orm_imports(ws)
    if orm_code:
        output = guard.guard_failure_output(orm_code)
        ctx.log(output, "error")
        return StepOutcome({**_failure(_guard_result(output), cleaned), **extra})

    previews = PreviewShots(ctx)  # each preview is screenshot once per job, its built page every time
    built = previews.build(ws, gate.pages_to_render(ctx))
    _log_commands(ctx, built)
    if built.install is not None and not built.install.ok:
        ctx.warn(
            "npm_install_failed",
            "npm install failed, so the app was not built; the ZIP is still "
            "available: run `npm install` yourself and see its output.",
        )
        return StepOutcome({"outcome": "install_failed", "summary": _summary(built.install), **extra})
    failed = built.failed
    if failed is not None:
        return StepOutcome({**_failure(failed, cleaned), **extra})
    if built.lint is None:
        ctx.warn("lint_missing", "The app has no lint script, so linting was skipped.")
    images = ctx.workdir / "visual"
    gated = gate.enforce(ctx, ws, built, fidelity.measure_pages(ctx.spec, built, images), images, previews)
    if gated.changed:
        ctx.save_snapshot(ws, snapshot)
        if gated.built.failed is not None:  # the scaffold's pages broke the build: the fix loop takes it
            return StepOutcome({**_failure(gated.built.failed, cleaned), **extra})
    _warn_unstyled(ctx, gated.built)
    return StepOutcome({"outcome": "passed", "fidelity": _report_fidelity(ctx, gated, images), **extra})


def _warn_unstyled(ctx: StepContext, built: BuildResult) -> None:
    """Class names of the built pages that no stylesheet of the app defines: one job warning, counted
    per page (a passing validate is the job's last, so the warning describes the app in the ZIP)."""
    if built.stylesheet_classes is None:  # a builder that does not say
        return
    pages = {p.page_id: built.pages.get(fidelity.built_file(p)) for p in ctx.spec.pages}
    found = {page_id: html for page_id, html in pages.items() if html is not None}
    message = unstyled.report(found, set(built.stylesheet_classes))
    if message:
        ctx.warn(unstyled.WARNING, message)


def _log_commands(ctx: StepContext, built: BuildResult) -> None:
    if built.install is None:
        ctx.log("node_modules: the starter's lockfile, installed once, from the install cache")
    for result in (built.install, built.build, built.lint):
        if result is None:
            continue
        status = "passed" if result.ok else f"failed (exit {result.exit_code})"
        ctx.log(
            f"`{result.display}` {status} in {result.duration_s:.1f} s ({built.sandbox})\n{result.output}",
            "info" if result.ok else "error",
        )


def _failure(result: CommandResult, cleaned: guard.GuardReport | None = None) -> dict[str, object]:
    output = result.output
    if cleaned is not None and cleaned.changed:
        # The fixer must know why files vanished, or it would put them back.
        output = f"Note: before this check the appgen guardrails {cleaned.note()}.\n\n{output}"
    return {
        "outcome": "failed",
        "command": result.display,
        "exitCode": result.exit_code,
        "signature": error_signature(result.output),
        "summary": _summary(result),
        "output": output,
    }


def _guard_result(output: str) -> CommandResult:
    return CommandResult((guard.GUARD_COMMAND,), 1, output, 0.0)


def _enforce_guardrails(ctx: StepContext, ws: Path, snapshot: str) -> guard.GuardReport:
    """Restore the dependency files, remove database artifacts and scrub secret values; the cleaned tree
    becomes the round's snapshot."""
    cleaned = guard.enforce(ws, ctx.services.settings.starter_dir)
    if cleaned.changed:
        ctx.log(f"guardrails: {cleaned.note()}", "warning")
        if cleaned.removed:
            ctx.warn(
                "guardrail_removed",
                "The agents added a database layer, which the plan does not allow; it was removed "
                "before the app was built (see the logs and appgen-report.json).",
            )
        if cleaned.scrubbed:
            ctx.warn(
                "secret_scrubbed",
                "An agent wrote a secret value of the service into the app; it was replaced with a "
                "placeholder.",
            )
        ctx.save_snapshot(ws, snapshot)
    return cleaned


def _summary(result: CommandResult) -> str:
    for line in result.output.splitlines():
        if "error" in line.lower():
            return f"{result.display}: {line.strip()[:300]}"
    return f"{result.display} exited with {result.exit_code}"


def _report_fidelity(ctx: StepContext, gated: gate.Gated, images: Path) -> list[dict[str, Any]]:
    """One log line per page, the figures, and the side-by-side images saved as `visual-<n>.tar.gz`."""
    for name, reason in sorted(gated.built.shots.errors.items()):
        ctx.log(f"screenshot {name} missing: {reason}", "warning")
    for entry in gated.figures:
        ctx.log(*_fidelity_line(entry))
    ctx.save_snapshot(images, fidelity.visual_snapshot(int(ctx.task.key)))
    return [{k: v for k, v in entry.items() if k != "summary"} for entry in gated.figures]


def _fidelity_line(entry: dict[str, Any]) -> tuple[str, str]:
    if not entry.get("measured"):
        return f"{entry['pageId']}: no prerendered page to measure fidelity", "warning"
    parts = [f"fidelity {entry['summary']}"]
    low = not entry.get("ok")
    for width in render.WIDTHS:
        value = entry["visual"].get(width)
        if value is None:
            parts.append(f"visual {width} not measured")
            continue
        parts.append(f"visual {width} {value['score']:.2f} ({value['diffShare']:.1%} of pixels differ)")
        low = low or value["score"] < fidelity.VISUAL_OK
    return ", ".join(parts), "warning" if low else "info"


def error_signature(output: str) -> str:
    """A stable fingerprint of a failure: its error lines with volatile parts (numbers, hashes, paths
    of temporary directories, timings) removed. The same error in two rounds gives the same signature."""
    lines = [
        line for line in output.splitlines() if re.search(r"(?i)\berror\b|failed to compile|TS\d{4}", line)
    ]
    normalized = [
        re.sub(r"\d+(\.\d+)?\s*m?s\b|/tmp/\S+|\b[0-9a-f]{8,}\b|\d+", "#", line).strip() for line in lines[:20]
    ]
    return hashlib.sha256("\n".join(normalized).encode()).hexdigest()[:16]
