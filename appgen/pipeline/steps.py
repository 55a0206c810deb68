"""The pipeline steps. Each restores its input from scratch storage, does one thing, saves its output and
returns a result for the database, which decides what runs next (see `finish_task`).

scaffold  -> scaffold.tar.gz            page      -> pages/<pageId>.tar.gz (only the page's own files)
integrate -> workspace-0.tar.gz         validate  -> {outcome: passed | failed | install_failed, …}
fix n     -> workspace-n.tar.gz         package   -> the ZIP in the artifact store, recorded

Validate round n first applies the guardrails (`guard.py`: database artifacts removed, secret values
scrubbed, the cleaned tree saved back as workspace-n; code still using an ORM fails the round), then
`npm install` seeded from the install cache (`install_cache.py`), `npm run build` and `npm run lint`.
"""

from __future__ import annotations

import json
from pathlib import Path

from appgen import prompts
from appgen.agents.runner import AgentResult, AgentTask
from appgen.errors import StepFailed
from appgen.pipeline import diffs, guard, install_cache, package
from appgen.pipeline.commands import CommandResult, error_signature, run_command
from appgen.pipeline.context import StepContext, StepOutcome
from appgen.pipeline.snapshots import fingerprint
from appgen.redact import redact
from appgen.scaffold import page_paths, scaffold_workspace
from appgen.scaffold.fidelity import measure
from appgen.spec import Page, route_to_dir

SCAFFOLD = "scaffold.tar.gz"
INSTALL_TIMEOUT_S = 900.0
BUILD_TIMEOUT_S = 900.0
LINT_TIMEOUT_S = 300.0
INTEGRATION_TIMEOUT_S = 900.0
FIX_TIMEOUT_S = 900.0


def workspace_snapshot(round_: int) -> str:
    return f"workspace-{round_}.tar.gz"


def page_bundle(page_id: str) -> str:
    return f"pages/{page_id}.tar.gz"


def run_scaffold(ctx: StepContext) -> StepOutcome:
    ws = ctx.workdir / "ws"
    result = scaffold_workspace(ctx.spec, ws, starter_dir=ctx.services.settings.starter_dir)
    (ws / "GEMINI.md").write_text(prompts.workspace_context())
    for warning in result.warnings:
        where = f"{warning.page_id}: " if warning.page_id else ""
        ctx.log(f"{where}{warning.message} [{warning.code}]", "warning")
    if ctx.services.settings.offline_model:
        ctx.warn(
            "offline_model",
            "No GEMINI_API_KEY was configured: agents ran against the offline stand-in, "
            "which makes no edits, so the app is the deterministic scaffold of the previews.",
        )
    ctx.save_snapshot(ws, SCAFFOLD)
    ctx.log(f"scaffolded {len(result.pages)} page(s) from the selected previews")
    return StepOutcome({"pages": [p.page_id for p in result.pages], "warnings": len(result.warnings)})


def run_page(ctx: StepContext) -> StepOutcome:
    page = _page(ctx, ctx.task.key)
    ws = ctx.workdir / "ws"
    ctx.restore_snapshot(SCAFFOLD, ws)
    allowed = page_paths(page)
    before = fingerprint(ws)
    agent = _run_agent(
        ctx,
        ws,
        prompts.page_prompt(ctx.spec, page, allowed.describe()),
        ctx.services.settings.page_agent_timeout_s,
        f"page:{page.page_id}",
    )
    changed = diffs.changed_files(before, fingerprint(ws))
    kept = [path for path in changed if allowed.allows(path) and (ws / path).exists()]
    discarded = [path for path in changed if not allowed.allows(path)]
    if discarded:
        ctx.log(f"discarded changes outside the page's files: {', '.join(discarded)}", "warning")
    ctx.save_snapshot(ws, page_bundle(page.page_id), kept)
    ctx.log(f"page agent for {page.page_id} changed {len(kept)} file(s): {', '.join(kept) or 'none'}")
    return _agent_outcome(agent, {"changed": kept, "discarded": discarded})


def run_integrate(ctx: StepContext) -> StepOutcome:
    ws = ctx.workdir / "ws"
    ctx.restore_snapshot(SCAFFOLD, ws)
    for page in ctx.spec.pages:
        # A bundle is data from another task: only its page's own files are let in.
        ctx.restore_snapshot(page_bundle(page.page_id), ws, allow=page_paths(page).allows)
    before = fingerprint(ws)
    agent = _run_agent(ctx, ws, prompts.integration_prompt(ctx.spec), INTEGRATION_TIMEOUT_S, "integrate")
    changed = diffs.changed_files(before, fingerprint(ws))
    ctx.log(f"integration agent changed {len(changed)} file(s): {', '.join(changed) or 'none'}")
    ctx.save_snapshot(ws, workspace_snapshot(0))
    return _agent_outcome(agent, {"changed": changed})


def run_validate(ctx: StepContext) -> StepOutcome:
    round_ = int(ctx.task.key)
    ws = ctx.workdir / "ws"
    ctx.restore_snapshot(workspace_snapshot(round_), ws)

    cleaned = _enforce_guardrails(ctx, ws, round_)
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


def run_fix(ctx: StepContext) -> StepOutcome:
    round_ = int(ctx.task.key)
    ws = ctx.workdir / "ws"
    ctx.restore_snapshot(workspace_snapshot(round_ - 1), ws)
    failure = ctx.task.inputs.get("failure") or {}
    previous = ctx.task.inputs.get("previousFix") or {}
    output = str(failure.get("output", ""))
    before = diffs.read_texts(ws)
    prompt = prompts.fix_prompt(
        ctx.spec,
        failure_output=output,
        files=diffs.files_named_in(output, ws),
        diff_summary=str(previous.get("diffSummary", "")),
        round=round_,
        max_rounds=ctx.task.max_fix_rounds,
        command=str(failure.get("command") or "npm run build"),
    )
    agent = _run_agent(ctx, ws, prompt, FIX_TIMEOUT_S, f"fix:{round_}")
    # Redacted: the diff is logged and shipped in the build report, and an agent may have written a secret.
    summary = redact(diffs.summarize(before, diffs.read_texts(ws)))
    ctx.log(f"fix round {round_} changed:\n{summary or 'nothing'}")
    ctx.save_snapshot(ws, workspace_snapshot(round_))
    return _agent_outcome(agent, {"diffSummary": summary})


def run_package(ctx: StepContext) -> StepOutcome:
    ws = ctx.workdir / "ws"
    ctx.restore_snapshot(workspace_snapshot(int(ctx.task.key)), ws)
    artifact = package.package_workspace(ctx, ws)
    ctx.log(f"stored the app: {artifact.size_bytes} bytes, sha256 {artifact.checksum}")
    return StepOutcome({"sizeBytes": artifact.size_bytes, "checksum": artifact.checksum})


STEPS = {
    "scaffold": run_scaffold,
    "page": run_page,
    "integrate": run_integrate,
    "validate": run_validate,
    "fix": run_fix,
    "package": run_package,
}


# -- helpers -------------------------------------------------------------------------------------------
def _page(ctx: StepContext, page_id: str) -> Page:
    for page in ctx.spec.pages:
        if page.page_id == page_id:
            return page
    raise StepFailed(f"the spec has no page {page_id!r}", code="internal")


def _run_agent(ctx: StepContext, ws: Path, prompt: str, limit_s: float, label: str) -> AgentResult:
    ctx.check_stop()
    task = AgentTask(
        workspace=ws,
        prompt=prompt,
        system_prompt=prompts.system_prompt(),
        timeout_s=ctx.budget(limit_s),
        max_turns=ctx.services.settings.agent_max_turns,
        label=label,
        should_stop=ctx.should_stop,
    )
    result = ctx.services.runner.run(task)
    ctx.log(
        f"{label} agent finished in {result.duration_s:.1f} s "
        f"({result.usage.input_tokens} input, {result.usage.output_tokens} output tokens)"
    )
    return result


def _agent_outcome(agent: AgentResult, result: dict[str, object]) -> StepOutcome:
    return StepOutcome(result, agent.usage.input_tokens, agent.usage.output_tokens)


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


def _enforce_guardrails(ctx: StepContext, ws: Path, round_: int) -> guard.GuardReport:
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
        ctx.save_snapshot(ws, workspace_snapshot(round_))
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
