"""How faithful each built page is to its preview, per page: the share of the preview's words it shows,
the share of its headings, links, images, buttons and fields (`appgen.scaffold.fidelity`), and how alike
the two look in Chromium at 1280 and 390 px (`appgen.visual`), with a side-by-side image per width.

The validate step measures after every passing build; the figures go into the step's result (which the
job object and `appgen-report.json` read) and the images into the scratch object `visual-<round>.tar.gz`
(the package step ships them under `appgen-report/`; the gate shows them to a repair agent).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appgen.pipeline.builder import BuildResult
from appgen.pipeline.render_request import MAX_INLINED_BYTES
from appgen.scaffold.fidelity import KINDS, FidelityReport, measure, missing_words
from appgen.scaffold.vendor import inline_vendored
from appgen.spec import GenerationSpec, Page, route_to_dir
from appgen.visual import render, score

IMAGES_DIR = "appgen-report"
VISUAL_OK = 0.90  # the acceptance threshold of issue 13, per width


def visual_snapshot(round_: int) -> str:
    return f"visual-{round_}.tar.gz"


def built_file(page: Page) -> str:
    """The page's prerendered HTML, relative to `.next/server/app`."""
    rel = route_to_dir(page.route).removeprefix("app") or "/index"
    return f"{rel.lstrip('/')}.html"


def render_request(
    spec: GenerationSpec, vendored: Mapping[str, str] | None = None
) -> tuple[render.RenderPage, ...]:
    """Each page's preview and built page. `vendored`: the copies of the stylesheets the scaffold vendored,
    by the href the previews link (`vendor.read_vendored`); each such `<link>` of a preview becomes a
    `<style>` holding the copy, in its place, since the renderer reaches no CDN and the app links the same
    copy. Up to `MAX_INLINED_BYTES` in all (in page order); a copy beyond it keeps its link."""
    room, pages = MAX_INLINED_BYTES, []
    for page in spec.pages:
        html, used = inline_vendored(page.selected_preview_html, vendored or {}, room)
        room -= used
        pages.append(render.RenderPage(page.page_id, html, built_file(page)))
    return tuple(pages)


def structure_ratio(report: FidelityReport) -> float:
    """The share of the preview's interactive parts (per kind, up to the preview's count) the page has."""
    wanted = sum(report.preview[k] for k in KINDS)
    if not wanted:
        return 1.0
    return sum(min(report.preview[k], report.built[k]) for k in KINDS) / wanted


def measure_pages(spec: GenerationSpec, built: BuildResult, images: Path) -> list[dict[str, Any]]:
    """One entry per page; side-by-side PNGs written to `images/appgen-report/<page>-<width>.png` (the
    directory emptied first: a measure never shows an earlier one's image)."""
    shutil.rmtree(images / IMAGES_DIR, ignore_errors=True)
    images.mkdir(parents=True, exist_ok=True)
    figures: list[dict[str, Any]] = []
    for page in spec.pages:
        html = built.pages.get(built_file(page))
        entry: dict[str, Any] = {"pageId": page.page_id}
        if html is None:
            entry["measured"] = False
        else:
            report = measure(page.selected_preview_html, html, page.page_id)
            entry.update(
                measured=report.found,
                textRatio=round(report.text_ratio, 4),
                structureRatio=round(structure_ratio(report), 4),
                preview=report.preview,
                built=report.built,
                ok=report.ok,
                summary=report.summary(),
                missingTexts=missing_words(page.selected_preview_html, html, page.page_id),
            )
        entry["visual"] = {
            width: _visual(built.shots, page.page_id, width, images) for width in render.WIDTHS
        }
        figures.append(entry)
    return figures


def visual_score(entry: dict[str, Any], width: str) -> float | None:
    value = (entry.get("visual") or {}).get(width)
    return float(value["score"]) if isinstance(value, dict) and "score" in value else None


def _visual(shots: render.Shots, page_id: str, width: str, images: Path) -> dict[str, Any] | None:
    preview, built = shots.get(page_id, width, "preview"), shots.get(page_id, width, "built")
    if preview is None or built is None:
        return None
    try:
        figures = score.compare(preview, built).as_dict()
        picture = score.side_by_side(preview, built, f"{page_id} @ {render.WIDTHS[width][0]} px")
    except score.UnreadableImage:
        return None
    rel = f"{IMAGES_DIR}/{page_id}-{width}.png"
    (images / rel).parent.mkdir(parents=True, exist_ok=True)
    (images / rel).write_bytes(picture)
    return {**figures, "image": rel}
