"""How faithful the scaffold is on real designs (issue 13's acceptance): each example spec
(`examples/specs/*.json`) and the template corpus (`tests/fixtures/templates/`, one app) is scaffolded
with the real starter and built in the sandbox (`LocalBuilder`, as the validate step builds), every page
is screenshotted at 1280 and 390 px (`appgen.visual.render`, one Chromium per app) and scored
(`appgen.pipeline.fidelity.measure_pages`: the visual score, the share of differing pixels, the share of
the preview's words). Goals: every page at least 0.90 visual at both widths and 0.98 text.

The side-by-side images (preview | built | differences) are written to
`<images>/<app>/appgen-report/<page>-<width>.png`, to look at before reading numbers.

    python bench/fidelity.py                         # every app; images under .appgen/fidelity/
    python bench/fidelity.py --only corpus --images /tmp/f
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appgen.pipeline import fidelity  # noqa: E402
from appgen.pipeline.builder import BuildRequest, LocalBuilder  # noqa: E402
from appgen.pipeline.install_cache import InstallCache  # noqa: E402
from appgen.scaffold import scaffold_workspace  # noqa: E402
from appgen.settings import Settings  # noqa: E402
from appgen.spec import GenerationSpec  # noqa: E402
from appgen.visual import render  # noqa: E402
from tests.e2e.stack import INSTALL_CACHE  # noqa: E402
from tests.fixtures.specs import corpus_spec  # noqa: E402

STARTER = ROOT / "worker_container" / "starter"
SPECS = sorted((ROOT / "examples" / "specs").glob("*.json"))
IMAGES = ROOT / ".appgen" / "fidelity"
SMOKE_PAGE = "bootstrap-checkout"  # `--smoke`: one small real page
BUILD_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class PageFigures:
    app: str
    page: str
    text: float | None  # None: the page was not prerendered
    visual: dict[str, float | None]  # width name -> score (None: no screenshot)
    diff_share: dict[str, float | None]


def apps(smoke: bool) -> dict[str, GenerationSpec]:
    """Name -> spec of every app the bench builds."""
    if smoke:
        return {"corpus": GenerationSpec.model_validate(corpus_spec([SMOKE_PAGE]))}
    specs = {p.stem: GenerationSpec.model_validate(json.loads(p.read_text())) for p in SPECS}
    return {**specs, "corpus": GenerationSpec.model_validate(corpus_spec())}


def measure(specs: dict[str, GenerationSpec], images: Path, root: Path) -> list[PageFigures]:
    """Scaffold, build and render each app, one after the other (`next build` uses every core already)."""
    cache = InstallCache(INSTALL_CACHE, Settings().install_cache_max_mb * 1024 * 1024)
    builder = LocalBuilder(starter_dir=STARTER, cache=cache)
    figures: list[PageFigures] = []
    for name, spec in specs.items():
        workspace = root / name
        started = time.monotonic()
        scaffold_workspace(spec, workspace, starter_dir=STARTER)
        request = BuildRequest(
            workspace, lambda limit: min(limit, BUILD_TIMEOUT_S), render=fidelity.render_request(spec)
        )
        result = builder.build(request)
        if result.failed is not None:
            raise RuntimeError(f"{name} did not build:\n{result.failed.output[-3000:]}")
        if result.shots.errors:
            print(f"{name}: renderer errors {result.shots.errors}", file=sys.stderr)
        entries = fidelity.measure_pages(spec, result, images / name)
        print(f"{name}: scaffold + build + render {time.monotonic() - started:.1f} s")
        for entry in entries:
            visual = {w: (entry["visual"] or {}).get(w) for w in render.WIDTHS}
            figures.append(
                PageFigures(
                    name,
                    entry["pageId"],
                    entry.get("textRatio"),
                    {w: v and v["score"] for w, v in visual.items()},
                    {w: v and v["diffShare"] for w, v in visual.items()},
                )
            )
    return figures


def table(figures: Sequence[PageFigures]) -> str:
    lines = ["| app | page | width | visual | diff share | text |", "|---|---|---|---|---|---|"]
    for f in figures:
        for width in render.WIDTHS:
            lines.append(
                f"| {f.app} | {f.page} | {render.WIDTHS[width][0]} | {_num(f.visual[width])} "
                f"| {_num(f.diff_share[width])} | {_num(f.text)} |"
            )
    return "\n".join(lines)


def worst(figures: Sequence[PageFigures]) -> tuple[float | None, str, float | None, str]:
    """(worst visual, where, worst text, where); a missing figure counts as 0."""
    visual = [(v or 0.0, f"{f.page} @ {render.WIDTHS[w][0]}") for f in figures for w, v in f.visual.items()]
    text = [(f.text or 0.0, f.page) for f in figures]
    (v, v_where), (t, t_where) = min(visual, default=(None, "")), min(text, default=(None, ""))
    return v, v_where, t, t_where


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help=f"only the corpus page {SMOKE_PAGE}")
    parser.add_argument("--only", action="append", help="an app name (a spec's file stem, or corpus)")
    parser.add_argument("--images", type=Path, default=IMAGES, help="where the side-by-side PNGs go")
    args = parser.parse_args(argv)
    specs = apps(args.smoke)
    if args.only:
        specs = {k: v for k, v in specs.items() if k in args.only}
    root = Path(tempfile.mkdtemp(prefix="appgen-fidelity-"))
    root.chmod(0o755)  # the box's user enters the workspaces
    try:
        figures = measure(specs, args.images, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(table(figures))
    print(f"side-by-side images: {args.images}/<app>/{fidelity.IMAGES_DIR}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
