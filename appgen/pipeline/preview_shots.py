"""Screenshots of the previews, taken once per job: a preview never changes while its app is built again
after the page agents, after each fix round and by the fidelity gate, so only the built side is rendered
again.

Each preview screenshot is kept under a key of the page, the width, the preview HTML's SHA-256 and the
renderer's version (`render.RENDERER_VERSION`: the in-box program, the page height, the mirror), in the
scratch object `preview-shots.tar.gz` of the job (validate steps run one after the other and may run on
different instances), and in this step's working directory between the gate's builds. A page whose
previews are all kept is sent to the builder without its preview (`RenderPage.preview_html` None); the
kept PNGs are put back into the build's shots afterwards, so the measures see both sides as before.

It works the same with the builder service (`APPGEN_BUILDER=remote`): the cache sits on the worker's side
of the Builder port, the render request the snapshot carries simply names fewer previews, and the answer
may only hold the screenshots it asked for. The worker's renderer version stands for the builder's: both
images are built from one commit (a deploy that changes the renderer mid-job can pair a preview shot of
the old renderer with a built shot of the new one for the rest of that job; the scores move a little, no
page breaks). A preview screenshot that failed is not kept, so the next build tries it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from appgen.errors import NotFound
from appgen.pipeline.builder import BuildRequest, BuildResult
from appgen.pipeline.context import StepContext
from appgen.pipeline.snapshots import PREVIEW_SHOTS
from appgen.visual import render


def shot_key(page: render.RenderPage, width: str) -> str:
    """The file a preview's screenshot at `width` is kept as."""
    digest = hashlib.sha256(f"{render.RENDERER_VERSION}\0{page.name}\0{width}\0".encode())
    digest.update((page.preview_html or "").encode())
    return f"{digest.hexdigest()[:40]}.png"


class PreviewShots:
    """The job's kept preview screenshots, loaded from scratch storage on first use by this step."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.root = ctx.workdir / "preview-shots"
        self._loaded = False

    def build(self, ws: Path, pages: tuple[render.RenderPage, ...]) -> BuildResult:
        """Build `ws` and screenshot `pages`, rendering only the previews not kept yet."""
        self.ctx.check_stop()
        ctx = self.ctx
        request = BuildRequest(ws, ctx.budget, ctx.should_stop, self.to_render(pages))
        built = ctx.services.builder.build(request)
        if built.failed is not None or not pages:
            return built
        return replace(built, shots=self.complete(pages, built.shots))

    def to_render(self, pages: tuple[render.RenderPage, ...]) -> tuple[render.RenderPage, ...]:
        """`pages`, each without its preview when every width of it is kept."""
        self._load()
        return tuple(
            replace(page, preview_html=None) if page.preview_html is not None and self._kept(page) else page
            for page in pages
        )

    def complete(self, pages: tuple[render.RenderPage, ...], shots: render.Shots) -> render.Shots:
        """`shots` with every kept preview screenshot of `pages`; new preview screenshots kept (and the
        job's scratch object saved when there are any)."""
        images, errors, new = dict(shots.images), dict(shots.errors), False
        for page in pages:
            if page.preview_html is None:
                continue
            for width in render.WIDTHS:
                name, kept = render.shot_name(page.name, width, "preview"), self.root / shot_key(page, width)
                if name in shots.images and not kept.is_file():
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    kept.write_bytes(shots.images[name])
                    new = True
                elif name not in shots.images and kept.is_file():
                    images[name] = kept.read_bytes()
                    errors.pop(name, None)
        if new:
            self.ctx.save_snapshot(self.root, PREVIEW_SHOTS)
        return replace(shots, images=images, errors=errors)

    def _kept(self, page: render.RenderPage) -> bool:
        return all((self.root / shot_key(page, width)).is_file() for width in render.WIDTHS)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            self.ctx.restore_snapshot(PREVIEW_SHOTS, self.root)
        except NotFound:  # the job's first measure: nothing kept yet
            self.root.mkdir(parents=True, exist_ok=True)
