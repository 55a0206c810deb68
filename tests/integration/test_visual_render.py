"""Chromium in the sandbox renders a small preview (its Tailwind CDN script served from the npm mirror) and
a tiny built page (prerendered HTML and static CSS, no server), both widths, full page; external images get
the same placeholder on both sides; a hostile built page reaches nothing outside its box."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from appgen.scaffold.vendor import inline_vendored
from appgen.visual import render, score
from tests.fixtures.visual import BUILT, CSS, PREVIEW

# The hostile page: with JavaScript off it cannot run; its resources can only name files the box does not hold.
HOSTILE = BUILT.replace(
    "</main>",
    '<img src="file:///etc/passwd"><iframe src="file:///root/"></iframe>'
    '<link rel="stylesheet" href="http://169.254.169.254/computeMetadata/v1/">'
    '<img src="/../../../etc/passwd"><script>document.title="ran"</script></main>',
)
# The same design with its content gone: what an agent that gutted the page leaves.
GUTTED = BUILT.replace('<div class="tall">Tall</div>', "").replace("Fresh bread", "")
BUILT_PAGES = {"home": BUILT, "gutted": GUTTED, "hostile": HOSTILE}


@pytest.fixture(scope="module")
def shots() -> Iterator[render.Shots]:
    """One render of three pages in one box, as the pipeline renders a job's pages (Chromium starts once)."""
    assert render.available() is None, render.available()
    root = Path(tempfile.mkdtemp(prefix="appgen-test-visual-"))
    root.chmod(0o755)
    ws = root / "ws"
    (ws / ".next" / "server" / "app").mkdir(parents=True)
    (ws / ".next" / "static" / "css").mkdir(parents=True)
    for name, html in BUILT_PAGES.items():
        (ws / ".next" / "server" / "app" / f"{name}.html").write_text(html)
    (ws / ".next" / "static" / "css" / "app.css").write_text(CSS)
    (ws / "public").mkdir()
    (ws / "public" / "ok.txt").write_text("x")
    (ws / "public" / "escape").symlink_to("/etc")
    (root / "render").mkdir()
    pages = [render.RenderPage(name, PREVIEW, f"{name}.html") for name in BUILT_PAGES]
    yield render.render(pages, workspace=ws, scratch=root / "render", timeout_s=180)
    shutil.rmtree(root, ignore_errors=True)


def test_a_preview_and_its_built_page_render_full_page_at_both_widths_and_score_alike(
    shots: render.Shots,
) -> None:
    assert shots.errors == {}, shots.errors
    for width, (px, _) in render.WIDTHS.items():
        preview, built = shots.get("home", width, "preview"), shots.get("home", width, "built")
        assert preview is not None and built is not None
        image = score.load(built)
        assert image.width == px and image.height > 1500  # full page, not the viewport
        result = score.compare(preview, built)
        assert result.score > 0.9, (width, result)
        assert result.diff_share < 0.05, (width, result)


def test_an_external_image_is_the_same_placeholder_on_both_sides(shots: render.Shots) -> None:
    # The built side's CSS is the preview's, so only the images could differ: they must not.
    preview = score.load(shots.get("home", "desktop", "preview") or b"")
    built = score.load(shots.get("home", "desktop", "built") or b"")
    box = (32, 72, 32 + 192, 72 + 128)  # p-8, below the 40 px heading, w-48 h-32
    assert preview.crop(box).getcolors() == built.crop(box).getcolors() == [(192 * 128, (200, 200, 200))]


def test_a_built_page_that_lost_its_content_scores_clearly_lower(shots: render.Shots) -> None:
    preview, built = shots.get("gutted", "desktop", "preview"), shots.get("gutted", "desktop", "built")
    assert preview is not None and built is not None
    assert score.compare(preview, built).score < 0.5


def test_a_hostile_built_page_reaches_no_file_and_no_network_outside_its_box(shots: render.Shots) -> None:
    assert shots.errors == {}, shots.errors
    assert shots.command is not None and shots.command.ok
    assert "root:" not in shots.command.output
    assert {shot_name for shot_name in shots.images if shot_name.startswith("hostile@")} == {
        render.shot_name("hostile", w, side) for w in render.WIDTHS for side in ("preview", "built")
    }


def test_a_preview_renders_with_the_stylesheet_the_app_vendored_inlined_and_unstyled_without() -> None:
    """The box reaches no CDN: the linked stylesheet only applies once its vendored copy is inlined."""
    theme = "https://cdn.example.org/theme.css"
    linked = f'<!doctype html><html><head><link rel="stylesheet" href="{theme}"></head><body><p>Hi</p></body></html>'
    inlined, _ = inline_vendored(linked, {theme: "body{background:rgb(255,0,0)}"}, 1000)
    scratch = Path(tempfile.mkdtemp(prefix="appgen-test-vendored-"))  # where the box's user can enter
    pages = [render.RenderPage("linked", linked), render.RenderPage("inlined", inlined)]
    try:
        shots = render.render(pages, workspace=None, scratch=scratch, timeout_s=180)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert shots.errors == {}, shots.errors
    for width in render.WIDTHS:
        styled = score.load(shots.get("inlined", width, "preview") or b"").convert("RGB")
        plain = score.load(shots.get("linked", width, "preview") or b"").convert("RGB")
        assert styled.getpixel((5, 400)) == (255, 0, 0), width
        assert plain.getpixel((5, 400)) == (255, 255, 255), width
