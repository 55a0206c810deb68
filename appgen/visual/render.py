"""Full-page screenshots of each page's preview and of its built page, taken by Chromium in a sandbox box.

Both sides render in one box (`appgen.sandbox.Box`), because both are code appgen did not write: the built
page is agent-written, the preview is the tenant's (with its scripts). The box has no network and sees:

- `/ws`, the built workspace, read-only: the prerendered HTML (`.next/server/app`), its CSS
  (`.next/static`) and `public/`, served to Chromium from files, with no server and no JavaScript;
- `/site`, the previews written by appgen and the renderer's request, read-only;
- `/mirror`, the npm packages of the CDN assets previews link (`mirror.py`), read-only;
- Playwright's own driver (its Node and `playwright-core`) and the system fonts' configuration, read-only;
- `/out`, the only writable place, where the PNGs go.

Chromium runs with `--no-sandbox` inside it (its own sandbox needs the user namespaces the box denies): the
box is the boundary. The in-box program is `shoot.mjs`; every request it sees is answered from those files,
the shared image placeholder, or refused. The PNGs it writes are read back as hostile data: expected names
only, regular files only, bounded in size (and `score.py` bounds their pixels).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from appgen.sandbox import Bind, Box, CommandResult
from appgen.visual.mirror import MIRROR_DIR, MIRROR_URLS, font_stylesheets

# name -> viewport (width, height): what a person sees on a laptop and on a phone.
WIDTHS: dict[str, tuple[int, int]] = {"desktop": (1280, 800), "mobile": (390, 844)}
MAX_HEIGHT = 6000  # px: a taller page is compared on its first 6000 px
MAX_PNG_BYTES = 16 * 1024 * 1024
RENDER_TIMEOUT_S = 120.0
CHROMIUM_CANDIDATES = (Path("/usr/lib/chromium/chromium"), Path("/usr/bin/chromium"))
FONT_CONFIG = Path("/etc/fonts")
SHOOT = Path(__file__).with_name("shoot.mjs")
PAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")  # a page that names no PNG safely is not rendered
SIDES = ("preview", "built")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class RenderPage:
    name: str  # a page id: names the PNGs
    preview_html: str | None = None
    built_file: str | None = None  # relative to .next/server/app, e.g. "index.html", "about/team.html"


@dataclass(frozen=True)
class Shots:
    images: dict[str, bytes] = field(default_factory=dict)  # shot_name(...) -> PNG bytes
    errors: dict[str, str] = field(default_factory=dict)  # shot name -> why it is missing
    command: CommandResult | None = None

    def get(self, page: str, width: str, side: str) -> bytes | None:
        return self.images.get(shot_name(page, width, side))


def shot_name(page: str, width: str, side: str) -> str:
    return f"{page}@{WIDTHS[width][0]}.{side}.png"


def shot_names(pages: Iterable[RenderPage]) -> set[str]:
    """Every PNG a render of `pages` may take: at every width, each side a page names (a page whose
    preview was screenshot earlier comes without it, `pipeline/preview_shots.py`)."""
    return {
        shot_name(p.name, width, side)
        for p in pages
        if PAGE_NAME.fullmatch(p.name)
        for width in WIDTHS
        for side, wanted in zip(SIDES, (p.preview_html, p.built_file), strict=True)
        if wanted is not None
    }


def _renderer_version() -> str:
    """What a screenshot depends on besides its page and width: the in-box program, the page height, and
    what the mirror serves (its URL table and its lockfile). A preview's screenshot is reused while this
    stays the same (`pipeline/preview_shots.py`)."""
    digest = hashlib.sha256(SHOOT.read_bytes())
    digest.update(json.dumps([WIDTHS, MAX_HEIGHT, MIRROR_URLS]).encode())
    lock = MIRROR_DIR.parent / "package-lock.json"
    digest.update(lock.read_bytes() if lock.is_file() else b"")
    return digest.hexdigest()[:16]


RENDERER_VERSION = _renderer_version()


def chromium_path() -> Path | None:
    for candidate in CHROMIUM_CANDIDATES:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def driver_dir() -> Path:
    """Playwright for Python's bundled driver: a Node binary and `playwright-core`."""
    import playwright

    return Path(playwright.__file__).parent / "driver"


def available() -> str | None:
    """None when screenshots can be taken here, else what is missing."""
    if chromium_path() is None:
        return "chromium is not installed (`apt-get install chromium`)"
    if not (driver_dir() / "package").is_dir():
        return "Playwright's driver is missing (`pip install playwright`)"
    return None


def render(
    pages: Sequence[RenderPage],
    *,
    workspace: Path | None,
    scratch: Path,
    timeout_s: float = RENDER_TIMEOUT_S,
    should_stop: Callable[[], bool] | None = None,
) -> Shots:
    """Screenshots of every page at every width; `scratch` is an empty directory the caller removes."""
    missing = available()
    chromium = chromium_path()
    if missing or chromium is None:
        return Shots(errors={"*": missing or "chromium is not installed"})
    pages = [p for p in pages if PAGE_NAME.fullmatch(p.name)]
    site, out = scratch / "site", scratch / "out"
    scratch.chmod(0o755)  # the box's uid must enter it (its content is no secret: previews, a request)
    (site / "preview").mkdir(parents=True)
    out.mkdir()
    shutil.copyfile(SHOOT, site / "shoot.mjs")
    entries = []
    fonts: dict[str, list[str]] = {}
    for page in pages:
        entry: dict[str, str] = {"name": page.name}
        if page.preview_html is not None:
            (site / "preview" / f"{page.name}.html").write_text(page.preview_html)
            entry["preview"] = f"/preview/{page.name}.html"
            fonts.update(font_stylesheets(page.preview_html))
        if page.built_file is not None and workspace is not None:
            entry["built"] = f"/built/{page.built_file}"
        entries.append(entry)
    app = "/ws/.next/server/app"
    request = {
        "chromium": str(chromium),
        "out": "/out",
        "maxHeight": MAX_HEIGHT,
        "widths": [list(size) for size in WIDTHS.values()],
        "roots": {
            "preview": "/site/preview",
            "built": app if workspace is not None else None,
            "static": "/ws/.next/static" if workspace is not None else None,
            "public": "/ws/public" if workspace is not None else None,
            "mirror": "/mirror" if MIRROR_DIR.is_dir() else None,
        },
        "mirror": [[pattern, path] for pattern, path in MIRROR_URLS],
        "fonts": fonts if MIRROR_DIR.is_dir() else {},
        "pages": entries,
    }
    (site / "request.json").write_text(json.dumps(request))
    binds = [
        Bind(site, "/site"),
        Bind(out, "/out", writable=True),
        Bind(driver_dir(), "/opt/playwright"),
    ]
    if workspace is not None:
        binds.append(Bind(workspace, "/ws"))
    if MIRROR_DIR.is_dir():
        binds.append(Bind(MIRROR_DIR, "/mirror"))
    if FONT_CONFIG.is_dir():
        binds.append(Bind(FONT_CONFIG, str(FONT_CONFIG)))
    box = Box(tuple(binds), cwd="/out")
    argv = ("/opt/playwright/node", "/site/shoot.mjs", "/opt/playwright/package", "/site/request.json")
    command = box.run(argv, timeout_s=timeout_s, should_stop=should_stop)
    expected = shot_names(pages)
    images = {name: data for name in expected if (data := _read_png(out / name)) is not None}
    errors = _errors(out / "errors.json", expected)
    if not command.ok:
        errors.setdefault("*", f"the renderer exited with {command.exit_code}: {command.output[-500:]}")
    return Shots(images, errors, command)


def _read_png(path: Path) -> bytes | None:
    """A PNG the box wrote: never through a link, only a regular file, bounded in size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_PNG_BYTES:
            return None
        data = handle.read(MAX_PNG_BYTES + 1)
    return data if data.startswith(PNG_SIGNATURE) else None


def _errors(path: Path, expected: set[str]) -> dict[str, str]:
    raw = _read_text(path)
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: str(v)[:300] for k, v in value.items() if k in expected}


def _read_text(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return ""
        return handle.read(64 * 1024).decode(errors="replace")
