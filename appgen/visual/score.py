"""How alike a preview's and its built page's screenshots look, and the side-by-side image people look at
before they read numbers.

The score is the lower of two views at a reduced scale (640 px wide, where a one-pixel shift of text
blurs away as it does for a person): SSIM (scikit-image's structural similarity, on greyscale), which
sees moved, missing or reshaped things, and the share of the page whose colour is the same, which sees
what SSIM barely does: a light background gone, a block recoloured. The share of full-resolution pixels
that differ is reported next to it.

Pages of different heights are compared on the taller one's height, the shorter padded with white: a
missing section is a difference. Inputs are PNGs a sandbox wrote, so they are hostile data: their
dimensions are checked before any pixel is decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from skimage.metrics import structural_similarity

MAX_SIDE = 8192  # px: a screenshot is at most 1280 wide and `render.MAX_HEIGHT` tall
SCORE_WIDTH = 640  # px: SSIM is computed at this width (or the image's, if narrower)
DIFF_THRESHOLD = 32  # a pixel differs when a channel differs by more than this (of 255)
PANEL_WIDTH = 400  # px: width of each panel of the side-by-side image
_GAP = 12
_WHITE = (255, 255, 255)


class UnreadableImage(ValueError):
    """The screenshot is not a PNG of a plausible size."""


@dataclass(frozen=True)
class VisualScore:
    score: float  # 1.0: identical; what the gate and the acceptance threshold read
    ssim: float
    diff_share: float  # share of full-resolution pixels that differ visibly, 0.0: none

    def as_dict(self) -> dict[str, float]:
        return {
            "score": round(self.score, 4),
            "ssim": round(self.ssim, 4),
            "diffShare": round(self.diff_share, 4),
        }


def load(png: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(png))
        if image.format != "PNG" or max(image.size) > MAX_SIDE:
            raise UnreadableImage(f"not a PNG of at most {MAX_SIDE} px a side")
        return image.convert("RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(str(exc)) from None


def compare(preview: bytes, built: bytes) -> VisualScore:
    a, b = _same_size(load(preview), load(built))
    pa, pb = np.asarray(a, dtype=np.int16), np.asarray(b, dtype=np.int16)
    diff_share = float((np.abs(pa - pb).max(axis=2) > DIFF_THRESHOLD).mean())
    width = min(SCORE_WIDTH, a.width)
    size = (width, max(7, round(a.height * width / a.width)))
    sa, sb = a.resize(size, Image.Resampling.BOX), b.resize(size, Image.Resampling.BOX)
    ga, gb = (np.asarray(i.convert("L"), dtype=np.float64) for i in (sa, sb))
    ssim = max(0.0, min(1.0, float(structural_similarity(ga, gb, data_range=255.0, win_size=7))))
    ca, cb = np.asarray(sa, dtype=np.int16), np.asarray(sb, dtype=np.int16)
    same = float((np.abs(ca - cb).max(axis=2) <= DIFF_THRESHOLD).mean())
    return VisualScore(min(ssim, same), ssim, diff_share)


def side_by_side(preview: bytes, built: bytes, title: str) -> bytes:
    """Preview | built | their differences in red, each `PANEL_WIDTH` wide, with a caption."""
    a, b = _same_size(load(preview), load(built))
    mask = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max(axis=2) > DIFF_THRESHOLD
    faded = (np.asarray(a.convert("L").convert("RGB"), dtype=np.float64) * 0.25 + 191).astype(np.uint8)
    faded[mask] = (220, 30, 30)
    panels = [a, b, Image.fromarray(faded)]
    scale = min(1.0, PANEL_WIDTH / a.width)
    size = (max(1, round(a.width * scale)), max(1, round(a.height * scale)))
    caption = 22
    canvas = Image.new("RGB", (3 * size[0] + 4 * _GAP, size[1] + caption + 2 * _GAP), (235, 235, 235))
    draw = ImageDraw.Draw(canvas)
    for i, (panel, label) in enumerate(zip(panels, ("preview", "built", "differences"), strict=True)):
        x = _GAP + i * (size[0] + _GAP)
        draw.text((x, _GAP // 2), f"{title} - {label}" if i == 0 else label, fill=(40, 40, 40))
        canvas.paste(panel.resize(size, Image.Resampling.LANCZOS), (x, caption + _GAP))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _same_size(a: Image.Image, b: Image.Image) -> tuple[Image.Image, Image.Image]:
    size = (max(a.width, b.width), max(a.height, b.height))
    return _pad(a, size), _pad(b, size)


def _pad(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    canvas = Image.new("RGB", size, _WHITE)
    canvas.paste(image, (0, 0))
    return canvas
