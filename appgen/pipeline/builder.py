"""The Builder port: install, build and lint one workspace where nothing secret is in reach, and hand back
exit codes, output and the prerendered pages. The validate step calls it; it never runs workspace code
itself.

`LocalBuilder` does it on this machine in `appgen.sandbox` boxes:

1. **Install** from the protected files only: the starter's `package.json` and `package-lock.json`
   (agents cannot change them; the guard restores them in the workspace too) are copied into a staging
   directory that holds nothing else, and `npm ci --ignore-scripts` runs there in a box that has the
   network (npm reaches the registry) and sees no agent-written file. The tree goes into the install
   cache under the lockfile's key (`install_cache.py`); every later job with that lockfile reuses it.
   The starter needs no lifecycle script: `next`'s SWC and Tailwind's oxide come as prebuilt
   platform packages, and eslint's resolver loads its prebuilt binding at run time.
2. **Build** and **lint** (when `package.json` has a lint script) in a box with no network at all: the
   workspace writable at `/app`, the cached tree read-only at `/app/node_modules` (neither `next build`
   nor `eslint` writes into it: Next keeps its cache in `.next/cache`).
3. **Pages**: the prerendered HTML (`.next/server/app/**/*.html`, what the fidelity measure reads),
   read after the box is gone, regular files only: a link the build planted to make the worker read a
   file of its own is skipped. The compiled stylesheets (`.next/static/**/*.css`) are read the same way
   for the class names they define, with the CSS files of `public/` (stylesheets the scaffold vendored)
   (`unstyled.py`: classes of the pages with no CSS).
4. **Screenshots**, when the request names pages to render and the build and lint passed: each page's
   preview and built page in Chromium, in another box with no network that sees the workspace read-only
   (`appgen/visual/render.py`). A renderer that fails or runs out of time leaves the shots missing (the
   step logs why); it never fails the build.

`RemoteBuilder` (`remote_builder.py`) satisfies the same interface in the cloud: it sends a snapshot of
the workspace to the builder service (`appgen/builder_service.py`, which runs a `LocalBuilder` over an
install cache baked into its image) and receives exactly a `BuildResult`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from appgen import sandbox
from appgen.errors import StepFailed
from appgen.pipeline import unstyled
from appgen.pipeline.install_cache import InstallCache, lock_key
from appgen.policy import ErrorCode
from appgen.sandbox import Bind, Box, CommandResult
from appgen.visual import render

PROTECTED_FILES = ("package.json", "package-lock.json")
INSTALL = ("npm", "ci", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund")
BUILD = ("npm", "run", "build")
LINT = ("npm", "run", "lint")
# Together within one step's window (`context.STEP_WINDOW_SECONDS`, 25 minutes): install, build and lint
# run in one validate step, which is one Cloud Tasks delivery.
INSTALL_TIMEOUT_S = 600.0
BUILD_TIMEOUT_S = 600.0
LINT_TIMEOUT_S = 300.0
PAGES_DIR = Path(".next") / "server" / "app"
STATIC_DIR = Path(".next") / "static"  # the compiled CSS (`unstyled`)
PUBLIC_DIR = Path("public")  # CSS served as is: stylesheets vendored from a CDN (`scaffold/vendor.py`)
MAX_PAGE_BYTES = 5 * 1024 * 1024  # also the largest stylesheet read
APP = "/app"


@dataclass(frozen=True)
class BuildRequest:
    workspace: Path
    budget: Callable[[float], float]  # a command's own limit -> the seconds it may run (raises at 0)
    should_stop: Callable[[], bool] = lambda: False
    render: tuple[render.RenderPage, ...] = ()  # pages to screenshot after a passing build


@dataclass(frozen=True)
class BuildResult:
    install: CommandResult | None  # None: the tree came from the install cache
    build: CommandResult | None = None  # None: not run (the install failed)
    lint: CommandResult | None = None  # None: not run (an earlier command failed, or no lint script)
    pages: dict[str, str] = field(default_factory=dict)  # "index.html", "about/team.html" -> HTML
    sandbox: str = ""  # how and where the commands ran, for the logs
    shots: render.Shots = field(default_factory=render.Shots)
    # The class names the compiled stylesheets define; None when unknown (no build, an older builder).
    stylesheet_classes: frozenset[str] | None = None

    @property
    def failed(self) -> CommandResult | None:
        """The command that failed, if one did."""
        for result in (self.install, self.build, self.lint):
            if result is not None and not result.ok:
                return result
        return None


class Builder(Protocol):
    def build(self, request: BuildRequest) -> BuildResult: ...


class LocalBuilder:
    def __init__(self, *, starter_dir: Path, cache: InstallCache, installs: bool = True):
        """`installs=False`: the cache already holds the starter's tree and nothing may install (the builder
        service, whose image has it and whose boxes have no network): a missing tree is an error."""
        self.starter_dir = starter_dir
        self.cache = cache
        self.installs = installs

    @property
    def starter_key(self) -> str:
        """The install cache key of the starter's lockfile."""
        return lock_key((self.starter_dir / "package-lock.json").read_bytes())

    def install_starter(self, request: BuildRequest) -> CommandResult | None:
        """Install the starter's tree into the cache unless it is there (None then): the first build does
        it, and `scripts/seed-install-cache` does it ahead of any job."""
        key = self.starter_key
        if self.cache.has(key):
            return None
        if not self.installs:
            raise StepFailed(
                f"the install cache {self.cache.root} holds no tree for the starter's lockfile, and this "
                "builder does not install",
                code=ErrorCode.INTERNAL,
            )
        return self._install(key, request)

    def build(self, request: BuildRequest) -> BuildResult:
        key = self.starter_key
        install = self.install_starter(request)
        if install is not None and not install.ok:
            return BuildResult(install, sandbox=sandbox.describe())
        with self.cache.lease(key) as tree:
            if tree is None:  # pruned by a concurrent publish into a cache smaller than two trees
                raise StepFailed(
                    "the install cache dropped the starter's node_modules: raise APPGEN_INSTALL_CACHE_MAX_MB",
                    code=ErrorCode.INTERNAL,
                )
            ws = request.workspace
            _mount_point(ws / "node_modules")
            box = Box((Bind(ws, APP, writable=True), Bind(tree, f"{APP}/node_modules")), cwd=APP)
            build = self._run(box, BUILD, BUILD_TIMEOUT_S, request)
            if not build.ok:
                return BuildResult(install, build, sandbox=sandbox.describe())
            lint = None
            if "lint" in _scripts(ws / "package.json"):
                lint = self._run(box, LINT, LINT_TIMEOUT_S, request)
        shots = render.Shots()
        if request.render and (lint is None or lint.ok):
            shots = _screenshots(request)
        stylesheets = [*_files(ws, STATIC_DIR, ".css").values(), *_files(ws, PUBLIC_DIR, ".css").values()]
        css = unstyled.stylesheets_classes(stylesheets)
        return BuildResult(install, build, lint, _pages(ws), sandbox.describe(), shots, css)

    def _install(self, key: str, request: BuildRequest) -> CommandResult:
        """`npm ci` of the protected files alone, published into the cache when it succeeds."""
        self.cache.npm.mkdir(parents=True, exist_ok=True)
        with self.cache.staging_dir() as staging:
            for name in PROTECTED_FILES:
                shutil.copyfile(self.starter_dir / name, staging / name)
            box = Box(
                (Bind(staging, "/install", writable=True), Bind(self.cache.npm, "/npm-cache", writable=True)),
                cwd="/install",
                network=True,
                env={"npm_config_cache": "/npm-cache"},
            )
            result = self._run(box, INSTALL, INSTALL_TIMEOUT_S, request)
            if result.ok:
                self.cache.publish(key, staging / "node_modules")
            return result

    @staticmethod
    def _run(box: Box, argv: tuple[str, ...], limit_s: float, request: BuildRequest) -> CommandResult:
        return box.run(argv, timeout_s=request.budget(limit_s), should_stop=request.should_stop)


def _screenshots(request: BuildRequest) -> render.Shots:
    ws = request.workspace
    with tempfile.TemporaryDirectory(dir=ws.parent, prefix="render-") as scratch:
        try:
            return render.render(
                request.render,
                workspace=ws,
                scratch=Path(scratch),
                timeout_s=request.budget(render.RENDER_TIMEOUT_S),
                should_stop=request.should_stop,
            )
        except StepFailed as exc:
            if exc.error_code != ErrorCode.COMMAND_TIMEOUT:
                raise  # a cancel, the job's time, a box that cannot start
            return render.Shots(errors={"*": exc.message[:500]})


def _mount_point(path: Path) -> None:
    """An empty directory for the read-only tree, whatever an agent left at that name."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.mkdir()


def _scripts(manifest: Path) -> dict[str, object]:
    try:
        scripts = json.loads(manifest.read_text()).get("scripts")
    except (OSError, ValueError, AttributeError):
        return {}
    return scripts if isinstance(scripts, dict) else {}


def _pages(ws: Path) -> dict[str, str]:
    """The prerendered pages."""
    return _files(ws, PAGES_DIR, ".html")


def _files(ws: Path, directory: Path, suffix: str) -> dict[str, str]:
    """The build's output files under `directory` ending in `suffix`, by path relative to it, never
    following a link (the build that wrote them was hostile code)."""
    found: dict[str, str] = {}
    root = ws / directory
    parents = [ws / Path(*directory.parts[: n + 1]) for n in range(len(directory.parts))]
    if any(p.is_symlink() for p in parents) or not root.is_dir():
        return found
    for dirpath, _, filenames in os.walk(root):  # os.walk does not descend into linked dirs
        for name in filenames:
            path = Path(dirpath) / name
            if not name.endswith(suffix):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a FIFO never blocks
            except OSError:
                continue
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_PAGE_BYTES:
                    found[path.relative_to(root).as_posix()] = handle.read().decode(errors="replace")
    return found
