"""The validate step: does round n of the generated app install, build and lint?

It first applies the guardrails (`guard.py`: database artifacts removed, secret values scrubbed, the
cleaned tree saved back as workspace-n; code still using an ORM fails the round), then runs
`npm install` seeded from the install cache (`install_cache.py`), `npm run build` and `npm run lint`
(`commands.py`), and on success measures how much of each preview survived into the built pages. Its
result (`passed`, `failed` with the command's output and error signature, or `install_failed`) is what
`finish_task` turns into a fix round, the package step or a failed job.
"""

from __future__ import annotations

import json
from pathlib import Path

from appgen.pipeline import guard, install_cache
from appgen.pipeline.commands import CommandResult, error_signature, run_command
from appgen.pipeline.context import StepContext, StepOutcome
from appgen.pipeline.snapshots import workspace_snapshot
from appgen.scaffold.fidelity import measure
from appgen.spec import route_to_dir

INSTALL_TIMEOUT_S = 900.0
BUILD_TIMEOUT_S = 900.0
LINT_TIMEOUT_S = 300.0


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

    install = _install(ctx, ws)
    if not install.ok:
        ctx.warn(
            "npm_install_failed",
            "npm install failed, so the app was not built; the ZIP is still "
            "available: run `npm install` yourself and see its output.",
        )
        return StepOutcome({"outcome": "install_failed", "summary": _summary(install), **extra})

    build = _command(ctx, ["npm", "run", "build"], ws, BUILD_TIMEOUT_S)
    if not build.ok:
        return StepOutcome({**_failure(build, cleaned), **extra})

    scripts = json.loads((ws / "package.json").read_text()).get("scripts", {})
    if "lint" in scripts:
        lint = _command(ctx, ["npm", "run", "lint"], ws, LINT_TIMEOUT_S)
        if not lint.ok:
            return StepOutcome({**_failure(lint, cleaned), **extra})
    else:
        ctx.warn("lint_missing", "The app has no lint script, so linting was skipped.")

    return StepOutcome({"outcome": "passed", "fidelity": _report_fidelity(ctx, ws), **extra})


def _command(ctx: StepContext, argv: list[str], ws: Path, limit_s: float) -> CommandResult:
    ctx.check_stop()
    result = run_command(
        argv,
        ws,
        timeout_s=ctx.budget(limit_s),
        npm_cache=_npm_cache(ctx),
        should_stop=ctx.should_stop,
    )
    status = "passed" if result.ok else f"failed (exit {result.exit_code})"
    ctx.log(
        f"`{result.display}` {status} in {result.duration_s:.1f} s\n{result.output}",
        "info" if result.ok else "error",
    )
    return result


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
    """Remove database artifacts and scrub secret values; the cleaned tree becomes the round's snapshot."""
    cleaned = guard.enforce(ws)
    if cleaned.changed:
        ctx.log(f"guardrails: {cleaned.note()}", "warning")
        if cleaned.removed or cleaned.dependencies:
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


def _install(ctx: StepContext, ws: Path) -> CommandResult:
    """`npm install`, seeded from the install cache when a job already installed this lockfile."""
    cache = _npm_cache(ctx)
    if install_cache.seed(ws, cache):
        ctx.log("seeded node_modules from the install cache")
    result = _command(
        ctx, ["npm", "install", "--no-audit", "--no-fund", "--prefer-offline"], ws, INSTALL_TIMEOUT_S
    )
    if result.ok and install_cache.store(ws, cache):
        ctx.log("stored node_modules in the install cache")
    return result


def _npm_cache(ctx: StepContext) -> Path:
    settings = ctx.services.settings
    return settings.npm_cache or settings.data_dir / "npm-cache"


def _summary(result: CommandResult) -> str:
    for line in result.output.splitlines():
        if "error" in line.lower():
            return f"{result.display}: {line.strip()[:300]}"
    return f"{result.display} exited with {result.exit_code}"


def _report_fidelity(ctx: StepContext, ws: Path) -> list[dict[str, object]]:
    """How much of each preview survived into the built page: one log line per page, and the figures."""
    figures: list[dict[str, object]] = []
    for page in ctx.spec.pages:
        rel = route_to_dir(page.route).removeprefix("app") or "/index"
        built = ws / ".next" / "server" / "app" / f"{rel.lstrip('/')}.html"
        if not built.is_file():
            ctx.log(f"{page.page_id}: no prerendered HTML to measure fidelity", "warning")
            figures.append({"pageId": page.page_id, "measured": False})
            continue
        report = measure(page.selected_preview_html, built.read_text(), page.page_id)
        ctx.log(f"fidelity {report.summary()}", "info" if report.ok else "warning")
        figures.append(
            {
                "pageId": page.page_id,
                "measured": report.found,
                "textRatio": round(report.text_ratio, 4),
                "preview": report.preview,
                "built": report.built,
                "ok": report.ok,
            }
        )
    return figures
