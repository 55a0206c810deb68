"""The render request a build carries to the builder service (`build_protocol` describes the exchange): the
pages to screenshot after a passing build travel inside the workspace snapshot as `RENDER_MEMBER`, which
the worker writes (instead of any file an agent wrote there) and the builder takes out, checked, before the
build starts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from appgen.errors import StepFailed
from appgen.pipeline import build_protocol as protocol
from appgen.pipeline import snapshots
from appgen.policy import ErrorCode
from appgen.redact import redact
from appgen.visual import render

RENDER_MEMBER = ".appgen-render.json"
# What the previews may carry of the stylesheets the scaffold vendored, inlined (`fidelity.render_request`):
# a large theme (about 1 MB) linked by every page of a six-page spec.
MAX_INLINED_BYTES = 8 * 1024 * 1024
# A spec's previews: 2 MB together (policy), 6x at worst as JSON; plus the inlined stylesheets.
MAX_RENDER_BYTES = 12 * 1024 * 1024 + MAX_INLINED_BYTES + 4 * 1024 * 1024


def pack_snapshot(workspace: Path, dest: Path, rendered: Sequence[render.RenderPage]) -> Path:
    """The request's body written to `dest`: the workspace's source and, when pages are to be rendered,
    the render request as `RENDER_MEMBER` (instead of a file an agent wrote there)."""
    files = [rel for rel in snapshots.workspace_files(workspace) if rel != RENDER_MEMBER]
    if not rendered:
        return snapshots.pack(workspace, dest, files)
    pages = [{"name": p.name, "preview": p.preview_html, "built": p.built_file} for p in rendered]
    request = json.dumps({"pages": pages}, ensure_ascii=False).encode()
    if len(request) > MAX_RENDER_BYTES:
        raise StepFailed(
            f"the previews to screenshot are {len(request)} bytes as JSON, more than the {MAX_RENDER_BYTES} "
            "the builder takes: the policy's max_total_preview_html_bytes is above what MAX_RENDER_BYTES covers",
            code=ErrorCode.INTERNAL,
        )
    return snapshots.pack(workspace, dest, files, {RENDER_MEMBER: request})


def take_render_request(workspace: Path) -> tuple[render.RenderPage, ...]:
    """The pages an unpacked snapshot asks to screenshot, its `RENDER_MEMBER` removed before the build
    starts; () without one. ValueError saying why when it is not exactly the format."""
    path = workspace / RENDER_MEMBER
    if not path.exists():
        return ()
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_RENDER_BYTES:
        raise ValueError(f"{RENDER_MEMBER} is not a file of at most {MAX_RENDER_BYTES} bytes")
    raw = path.read_bytes()
    path.unlink()
    try:
        request = json.loads(raw, parse_constant=protocol.no_constant)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{RENDER_MEMBER} is not JSON ({type(exc).__name__})") from None
    pages = request.get("pages") if isinstance(request, dict) and set(request) == {"pages"} else None
    if not isinstance(pages, list) or len(pages) > protocol.MAX_PAGES:
        raise ValueError(f"{RENDER_MEMBER} is not an object of at most {protocol.MAX_PAGES} pages")
    rendered = tuple(_render_page(page) for page in pages)
    if len({page.name for page in rendered}) != len(rendered):
        raise ValueError(f"{RENDER_MEMBER} names a page twice")
    return rendered


def _render_page(page: object) -> render.RenderPage:
    if not isinstance(page, dict) or set(page) != {"name", "preview", "built"}:
        raise ValueError("a page to render is not exactly name, preview and built")
    name, preview, built = page["name"], page["preview"], page["built"]
    if not isinstance(name, str) or not render.PAGE_NAME.fullmatch(name):
        raise ValueError(f"the page name {redact(str(name)[:80])!r} is not a page id")
    if preview is not None and not isinstance(preview, str):
        raise ValueError(f"the preview of {name!r} is not text")
    if built is not None and not (isinstance(built, str) and protocol.is_page_path(built)):
        raise ValueError(f"the built page of {name!r} is not a relative path of an .html file")
    return render.RenderPage(name, preview, built)
