"""The fidelity gate: no page ends up clearly less like its design than the deterministic scaffold made it.

The validate step calls it after every passing build (after the page agents and integration, and after
each fix round), with the figures it just measured. Cheap when nothing is wrong: only a page below the
bar (text under 98 %, or a visual score under 0.90 at a width) is compared with its scaffold, by building
once more with those pages put back to the scaffold's files. A page clearly below its scaffold (2 points
of text, or 0.05 of visual score, at either width) gets one repair turn of an agent, told the missing
words and shown the side-by-side images; after one more build, a page still clearly below is put back to
the scaffold's version, the app is built again, and the job gets the warning `fidelity_reverted`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appgen import prompts
from appgen.pipeline import diffs, fidelity
from appgen.pipeline.builder import BuildResult
from appgen.pipeline.context import StepContext
from appgen.pipeline.preview_shots import PreviewShots
from appgen.pipeline.snapshots import EXCLUDED_DIRS, SCAFFOLD, fingerprint, workspace_files
from appgen.scaffold import page_paths, vendor
from appgen.scaffold.fidelity import TEXT_RATIO_OK
from appgen.spec import Page
from appgen.visual import render

TEXT_MARGIN = 0.02
VISUAL_MARGIN = 0.05
REPAIR_TIMEOUT_S = 600.0
WARNING = "fidelity_reverted"


@dataclass
class Gated:
    built: BuildResult
    figures: list[dict[str, Any]]
    changed: bool = False  # the workspace was repaired or reverted: the round's snapshot must be saved


def enforce(
    ctx: StepContext,
    ws: Path,
    built: BuildResult,
    figures: list[dict[str, Any]],
    images: Path,
    previews: PreviewShots,
) -> Gated:
    """`previews`: the job's preview screenshots, so the gate's builds render only their built pages."""
    suspects = [p for p in ctx.spec.pages if _below_bar(_entry(figures, p.page_id))]
    if not suspects:
        return Gated(built, figures)
    scaffold = ctx.workdir / "gate-scaffold"
    ctx.restore_snapshot(SCAFFOLD, scaffold)
    baseline = ctx.workdir / "gate-baseline"
    _copy_workspace(ws, baseline)
    for page in suspects:
        _revert(baseline, scaffold, page)
    base_built = _build(previews, baseline)
    if base_built.failed is not None:
        ctx.log(
            "fidelity gate: the scaffold's versions of the pages below the bar do not build here; "
            "the pages are kept as they are",
            "warning",
        )
        return Gated(built, figures)
    base = fidelity.measure_pages(ctx.spec, base_built, ctx.workdir / "gate-images")
    worse = {
        p.page_id: f for p in suspects if (f := findings(_entry(figures, p.page_id), _entry(base, p.page_id)))
    }
    if not worse:
        ctx.log(
            f"fidelity gate: {', '.join(p.page_id for p in suspects)} below the bar, but not below the scaffold"
        )
        return Gated(built, figures)

    for page in [p for p in ctx.spec.pages if p.page_id in worse]:
        _repair(ctx, ws, page, worse[page.page_id], images)
    repaired = _build(previews, ws)
    after = fidelity.measure_pages(ctx.spec, repaired, images) if repaired.failed is None else figures
    still = [
        p
        for p in ctx.spec.pages
        if p.page_id in worse
        and (repaired.failed is not None or findings(_entry(after, p.page_id), _entry(base, p.page_id)))
    ]
    if not still:
        ctx.log(f"fidelity gate: the repair turn brought back {', '.join(worse)}")
        return Gated(repaired, after, changed=True)
    for page in still:
        _revert(ws, scaffold, page)
    names = ", ".join(p.page_id for p in still)
    ctx.warn(
        WARNING,
        f"The agents made page(s) {names} look less like the design than the scaffold, and one repair "
        "turn did not fix it: those pages are the scaffold's version (see appgen-report/).",
    )
    final = _build(previews, ws)
    return Gated(
        final, fidelity.measure_pages(ctx.spec, final, images) if final.failed is None else after, True
    )


def findings(current: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """What makes `current` clearly worse than `baseline`, in words an agent can act on (empty: it is not)."""
    found: list[str] = []
    text, base_text = current.get("textRatio"), baseline.get("textRatio")
    if isinstance(base_text, float | int) and (
        not isinstance(text, float | int) or base_text - text > TEXT_MARGIN
    ):
        shown = f"{text:.0%}" if isinstance(text, float | int) else "none"
        found.append(f"the page shows {shown} of the design's words; the scaffold showed {base_text:.0%}")
        missing = current.get("missingTexts") or []
        if missing:
            found.append("words of the design missing from the page: " + " ".join(missing))
    for width in render.WIDTHS:
        score, base_score = fidelity.visual_score(current, width), fidelity.visual_score(baseline, width)
        if base_score is not None and (score is None or base_score - score > VISUAL_MARGIN):
            shown = f"{score:.2f}" if score is not None else "not measurable"
            found.append(
                f"at {render.WIDTHS[width][0]} px it looks {shown} alike to the design; the scaffold {base_score:.2f}"
            )
    return found


def _below_bar(entry: dict[str, Any]) -> bool:
    text = entry.get("textRatio")
    if isinstance(text, float | int) and text < TEXT_RATIO_OK:
        return True
    scores = [fidelity.visual_score(entry, w) for w in render.WIDTHS]
    return any(s is not None and s < fidelity.VISUAL_OK for s in scores)


def _entry(figures: list[dict[str, Any]], page_id: str) -> dict[str, Any]:
    return next((f for f in figures if f.get("pageId") == page_id), {})


def pages_to_render(ctx: StepContext) -> tuple[render.RenderPage, ...]:
    """What a passing build screenshots: every page, unless visual scores are off (APPGEN_VISUAL_FIDELITY);
    the previews with the stylesheets the scaffold vendored inlined."""
    if not ctx.services.settings.visual_fidelity:
        return ()
    return fidelity.render_request(ctx.spec, vendored_stylesheets(ctx))


def vendored_stylesheets(ctx: StepContext) -> dict[str, str]:
    """The copies the scaffold vendored, by the href the previews link, read from the scaffold's snapshot
    (its manifest and `public/vendor/` only, restored once per step, and only when a preview links a
    stylesheet that could have been vendored), not from the workspace: agents may have edited or removed
    those files since, and the preview stays the design as it was, the same HTML every round (its
    screenshot is kept by that HTML's hash, `preview_shots`)."""
    if not any(vendor.fetch_url(href) for href in vendor.stylesheets_to_fetch(ctx.spec.pages)):
        return {}
    root = ctx.workdir / "scaffold-vendored"
    if not root.is_dir():
        partial = ctx.workdir / "scaffold-vendored.partial"
        shutil.rmtree(partial, ignore_errors=True)
        ctx.restore_snapshot(
            SCAFFOLD, partial, lambda rel: rel == vendor.MANIFEST or rel.startswith(f"{vendor.PUBLIC_DIR}/")
        )
        partial.rename(root)
    return vendor.read_vendored(root)


def _build(previews: PreviewShots, ws: Path) -> BuildResult:
    return previews.build(ws, pages_to_render(previews.ctx))


def _repair(ctx: StepContext, ws: Path, page: Page, found: list[str], images: Path) -> None:
    from appgen.pipeline.steps import run_agent  # steps imports validate, which imports this module

    shown = []
    for width in render.WIDTHS:
        rel = f"{fidelity.IMAGES_DIR}/{page.page_id}-{width}.png"
        if (images / rel).is_file():
            (ws / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(images / rel, ws / rel)
            shown.append(rel)
    allowed = page_paths(page)
    ctx.log(
        f"fidelity gate: {page.page_id} is clearly below its scaffold ({'; '.join(found)}): one repair turn"
    )
    before = fingerprint(ws)
    kept = ctx.workdir / f"gate-before-{page.page_id}"
    _copy_workspace(ws, kept)
    prompt = prompts.repair_prompt(ctx.spec, page, allowed.describe(), found, shown)
    run_agent(ctx, ws, prompt, REPAIR_TIMEOUT_S, f"repair:{page.page_id}")
    changed = diffs.changed_files(before, fingerprint(ws))
    outside = [path for path in changed if not allowed.allows(path)]
    if outside:  # like a page agent's: only the page's own files are kept
        ctx.log(
            f"discarded the repair agent's changes outside the page's files: {', '.join(outside)}", "warning"
        )
        _restore_files(ws, before, outside, kept)


def _revert(ws: Path, scaffold: Path, page: Page) -> None:
    """The page's own files become exactly the scaffold's."""
    allowed = page_paths(page)
    for rel in workspace_files(ws):
        if allowed.allows(rel):
            (ws / rel).unlink()
    for rel in workspace_files(scaffold):
        if allowed.allows(rel):
            (ws / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(scaffold / rel, ws / rel)


def _restore_files(ws: Path, before: dict[str, str], paths: list[str], source: Path) -> None:
    """Files outside the page put back as they were before the repair turn (`source` is a copy taken
    then), and files the agent created there removed."""
    for rel in paths:
        target = ws / rel
        if rel in before and (source / rel).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, target)
        elif target.is_file() or target.is_symlink():
            target.unlink()


def _copy_workspace(ws: Path, dest: Path) -> None:
    shutil.copytree(ws, dest, symlinks=True, ignore=shutil.ignore_patterns(*EXCLUDED_DIRS))
