"""The visual score: identical screenshots score 1.0, a moved or recoloured block scores lower, pages of
different heights compare with the missing part as a difference, and hostile PNGs are refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from appgen.visual.score import UnreadableImage, compare, load, side_by_side


def page(*, block_at: int = 100, colour: tuple[int, int, int] = (30, 60, 200), height: int = 800) -> bytes:
    image = Image.new("RGB", (1280, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 40, 1200, 90), fill=(20, 20, 20))  # a heading bar
    draw.rectangle((80, block_at, 640, block_at + 300), fill=colour)
    for y in range(460, 760, 30):  # lines of text
        draw.rectangle((80, y, 1100, y + 12), fill=(90, 90, 90))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_identical_screenshots_score_one_with_no_differing_pixels() -> None:
    score = compare(page(), page())
    assert score.score == score.ssim == pytest.approx(1.0)
    assert score.diff_share == 0.0
    assert score.as_dict() == {"score": 1.0, "ssim": 1.0, "diffShare": 0.0}


def test_a_shifted_block_scores_lower_than_identical() -> None:
    score = compare(page(), page(block_at=140))
    assert score.score <= score.ssim < 0.97
    assert 0.01 < score.diff_share < 0.2


def test_a_recoloured_block_scores_lower_and_a_bigger_change_scores_lower_still() -> None:
    slight = compare(page(), page(colour=(30, 60, 150)))
    strong = compare(page(), page(colour=(250, 200, 20)))
    assert slight.diff_share > 0.1 and strong.diff_share > 0.1
    assert strong.ssim < slight.ssim < 1.0
    assert strong.score <= slight.score < 0.9


def test_a_page_that_lost_its_lower_half_counts_the_missing_part_as_different() -> None:
    full, cut = page(height=1600), page(height=400)
    score = compare(full, cut)
    assert score.score < 0.9
    assert score.diff_share > 0.02


def test_a_light_background_that_vanished_lowers_the_score_though_ssim_barely_sees_it() -> None:
    pale = Image.new("RGB", (390, 1200), (219, 234, 254))
    white = Image.new("RGB", (390, 1200), (255, 255, 255))
    pngs = []
    for image in (pale, white):
        out = io.BytesIO()
        image.save(out, format="PNG")
        pngs.append(out.getvalue())
    score = compare(*pngs)
    assert score.ssim > 0.9
    assert score.score < 0.1


def test_the_side_by_side_image_holds_three_panels_at_the_taller_height() -> None:
    png = side_by_side(page(height=1600), page(height=800), "home @ 1280")
    image = load(png)
    assert image.width == 3 * 400 + 4 * 12
    assert image.height == 500 + 22 + 2 * 12


@pytest.mark.parametrize(
    "data",
    [b"not a png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40],
)
def test_unreadable_or_truncated_data_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableImage):
        load(data)


def test_an_image_larger_than_any_screenshot_is_refused_before_its_pixels_are_decoded() -> None:
    out = io.BytesIO()
    Image.new("1", (20000, 10)).save(out, format="PNG")
    with pytest.raises(UnreadableImage, match="8192"):
        load(out.getvalue())


def test_another_format_is_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    with pytest.raises(UnreadableImage):
        load(out.getvalue())
