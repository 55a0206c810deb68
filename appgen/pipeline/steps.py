"""The pipeline steps. Each restores its input from scratch storage, does one thing, saves its output and
returns a result for the database, which decides what runs next (see `finish_task`).

scaffold  -> scaffold.tar.gz            page      -> pages/<pageId>.tar.gz (only the page's own files)
integrate -> workspace-0.tar.gz         validate  -> {outcome: passed | failed | install_failed, …}
fix n     -> workspace-n.tar.gz         package   -> the ZIP in the artifact store, recorded

The agent steps (page, integrate, fix) live here; validation, the one step that runs the generated app's
own commands, lives in `validate.py`.
"""

from __future__ import annotations

from pathlib import Path

from appgen import prompts
from appgen.agents.runner import AgentResult, AgentTask
from appgen.errors import StepFailed
from appgen.pipeline import diffs, package
from appgen.pipeline.context import StepContext, StepOutcome
from appgen.pipeline.snapshots import SCAFFOLD, fingerprint, page_bundle, workspace_snapshot
from appgen.pipeline.validate import run_validate
from appgen.policy import ErrorCode
from appgen.redact import redact
from appgen.scaffold import page_paths, scaffold_workspace, summarize_warnings
from appgen.scaffold.vendor import FetchedStylesheet, stylesheets_to_fetch
from appgen.spec import Page

INTEGRATION_TIMEOUT_S = 900.0
FIX_TIMEOUT_S = 900.0


def run_scaffold(ctx: StepContext) -> StepOutcome:
    ws = ctx.workdir / "ws"
    fetched = _fetch_stylesheets(ctx)
    result = scaffold_workspace(
        ctx.spec, ws, starter_dir=ctx.services.settings.starter_dir, stylesheets=fetched
    )
    (ws / "GEMINI.md").write_text(prompts.workspace_context())
    for href, copy in result.vendored.items():
        origins = f"; what it references still loads from {', '.join(copy.origins)}" if copy.origins else ""
        ctx.log(f"vendored the stylesheet {href} as {copy.path}{origins}")
    for warning in result.warnings:
        where = f"{warning.page_id}: " if warning.page_id else ""
        ctx.log(f"{where}{warning.message} [{warning.code}]", "warning")
    for code, message in summarize_warnings(result.warnings).items():
        ctx.warn(code, message)  # one job warning per code (the database keeps one), counted per page
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
    agent = run_agent(
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
    agent = run_agent(ctx, ws, prompts.integration_prompt(ctx.spec), INTEGRATION_TIMEOUT_S, "integrate")
    changed = diffs.changed_files(before, fingerprint(ws))
    ctx.log(f"integration agent changed {len(changed)} file(s): {', '.join(changed) or 'none'}")
    ctx.save_snapshot(ws, workspace_snapshot(0))
    return _agent_outcome(agent, {"changed": changed})


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
    agent = run_agent(ctx, ws, prompt, FIX_TIMEOUT_S, f"fix:{round_}")
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
def _fetch_stylesheets(ctx: StepContext) -> dict[str, FetchedStylesheet] | None:
    """The linked stylesheets no starter package provides, fetched for the scaffold to vendor (the step's
    I/O, so the scaffold stays pure); None when vendoring is off."""
    fetcher = ctx.services.stylesheet_fetcher
    if fetcher is None:
        return None
    hrefs = stylesheets_to_fetch(ctx.spec.pages)
    if not hrefs:
        return {}
    ctx.check_stop()
    fetched = fetcher.fetch_all(hrefs)
    ok = sum(1 for f in fetched.values() if f.css is not None)
    ctx.log(f"fetched {ok} of {len(hrefs)} linked stylesheet(s) no starter package provides")
    return fetched


def _page(ctx: StepContext, page_id: str) -> Page:
    for page in ctx.spec.pages:
        if page.page_id == page_id:
            return page
    raise StepFailed(f"the spec has no page {page_id!r}", code=ErrorCode.INTERNAL)


def run_agent(ctx: StepContext, ws: Path, prompt: str, limit_s: float, label: str) -> AgentResult:
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
    if result.turn_limit:
        # Not a failure: what the agent wrote so far is saved and validated like any other edit, and a
        # build it left broken goes to the fix loop.
        ctx.log(
            f"{label} agent stopped at its turn limit ({task.max_turns} turns) after {result.duration_s:.1f} s"
        )
        ctx.warn(
            "agent_turn_limit",
            "An agent reached its turn limit and stopped early; the edits it had made are kept.",
        )
        return result
    ctx.log(
        f"{label} agent finished in {result.duration_s:.1f} s "
        f"({result.usage.input_tokens} input, {result.usage.output_tokens} output tokens)"
    )
    return result


def _agent_outcome(agent: AgentResult, result: dict[str, object]) -> StepOutcome:
    return StepOutcome(result, agent.usage.input_tokens, agent.usage.output_tokens)
