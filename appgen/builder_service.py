"""The builder service (Cloud Run service `appgen-builder`, target `build` of builder_container/main.py):
the worker's `RemoteBuilder` sends it a workspace snapshot, it builds it with a `LocalBuilder` in
bubblewrap boxes (screenshots of the pages the snapshot asks for included, taken by Chromium in a box
after a passing build) and answers exactly a `BuildResult` (`pipeline/build_protocol.py` has the format).

It is where agent-written code runs in the cloud, so it is built to have nothing worth taking:

- it **holds no secret** and refuses to start with one in its environment (`SECRET_NAMES`, or a name
  that looks like one), and it needs no database, storage or queue: its service account has no roles;
- it answers only `POST /build` with a Google ID token of one caller, the worker's service account
  (`APPGEN_BUILDER_CALLER`, for `APPGEN_BUILDER_AUDIENCE`), checked after Cloud Run IAM checked it;
- it never installs: the starter's tree is in its image's install cache (read-only, owned by root), and
  it refuses a workspace whose lockfile is not its starter's; so its boxes need no network, and the
  service can run without egress;
- one build at a time (a second request gets 429), the snapshot size-limited before and after
  unpacking, extracted with the safe extraction (no absolute paths, `..`, links or devices), and
  everything it wrote removed when the build ends, however it ends.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tarfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import flask

from appgen import errors, sandbox
from appgen.errors import StepFailed
from appgen.pipeline import build_protocol as protocol
from appgen.pipeline import render_request, snapshots
from appgen.pipeline.builder import BuildRequest, LocalBuilder
from appgen.pipeline.install_cache import lock_key
from appgen.policy import ErrorCode
from appgen.responses import error_response
from appgen.services import local_builder
from appgen.settings import Settings, load_settings
from appgen.visual import render

log = logging.getLogger(__name__)

# appgen's secrets, and the credentials a misconfigured deploy might hand over.
SECRET_NAMES = (
    "GEMINI_API_KEY",
    "SUPABASE_SERVICE_ROLE_KEY",
    "SUPABASE_ANON_KEY",
    "SUPABASE_JWT_SECRET",
    "APPGEN_DATABASE_URL",
    "APPGEN_DATABASE_LISTEN_URL",
    "APPGEN_INTERNAL_SECRET",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "DATABASE_URL",
)
_SECRET_SHAPED = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL", re.I)
_REFUSAL = "the builder accepts only the worker's"
CHUNK = 1024 * 1024


@dataclass
class BuilderService:
    settings: Settings
    builder: LocalBuilder
    busy: threading.Lock = field(default_factory=threading.Lock)


def create(env: Mapping[str, str] | None = None) -> BuilderService:
    """The service from the environment, or a ConfigError naming what is wrong (a secret, a missing
    caller or audience, no box, no installed starter)."""
    env = os.environ if env is None else env
    present = sorted(
        name for name, value in env.items() if value and (name in SECRET_NAMES or _SECRET_SHAPED.search(name))
    )
    if present:
        raise errors.ConfigError(
            f"the builder service holds no secret, but {', '.join(present)} is set: remove it from its "
            "environment (the builder runs agent-written code)"
        )
    settings = load_settings(env)
    needs = {
        "APPGEN_BUILDER_AUDIENCE": (settings.builder_audience, "the audience of the worker's ID token"),
        "APPGEN_BUILDER_CALLER": (settings.builder_caller, "the worker's service account"),
    }
    missing = [f"{name} ({meaning})" for name, (value, meaning) in needs.items() if not value]
    if missing:
        raise errors.ConfigError(f"the builder service needs {' and '.join(missing)}")
    builder = local_builder(settings, installs=False)
    lockfile = settings.starter_dir / "package-lock.json"
    if not lockfile.is_file():
        raise errors.ConfigError(f"the starter's package-lock.json is not at {lockfile} (APPGEN_STARTER_DIR)")
    if not builder.cache.has(builder.starter_key):
        raise errors.ConfigError(
            f"the install cache {builder.cache.root} (APPGEN_NPM_CACHE) holds no tree for the starter's "
            "lockfile: the builder never installs, its image does (builder_container/Dockerfile)"
        )
    sandbox.check()
    return BuilderService(settings, builder)


_current: BuilderService | None = None
_lock = threading.Lock()


def current() -> BuilderService:
    global _current
    with _lock:
        if _current is None:
            _current = create()
        return _current


def install(value: BuilderService | None) -> None:
    """Make `value` the process's builder service (tests); None forgets it."""
    global _current
    with _lock:
        _current = value


def check_ready() -> None:
    """Build the service at start-up: a configuration the builder must not run with stops the start."""
    try:
        current()
    except errors.ConfigError as exc:
        raise SystemExit(f"appgen cannot start: {exc.message}") from None


def handle(request: flask.Request, get_service: Callable[[], BuilderService]) -> flask.Response:
    """Answer one build request (see `build_protocol` for every answer)."""
    try:
        service = get_service()
        settings = service.settings
        from appgen.cloud.oidc import iam_checked_token, verify_google_oidc

        verify_google_oidc(
            iam_checked_token(request.headers),
            settings.builder_audience or "",
            [settings.builder_caller] if settings.builder_caller else [],
            refusal=_REFUSAL,
            trust_iam=settings.trust_cloud_run_iam,
        )
        if request.path != protocol.PATH:
            raise errors.NotFound(f"no builder endpoint {request.path}")
        if request.method != "POST":
            raise errors.MethodNotAllowed()
        budget_s = protocol.budget_seconds(request.headers.get(protocol.BUDGET_HEADER))
        if budget_s is None:
            raise errors.InvalidRequest(f"{protocol.BUDGET_HEADER} must be a positive number of seconds")
        if (request.content_length or 0) > protocol.MAX_SNAPSHOT_BYTES:
            raise errors.PayloadTooLarge(f"the snapshot is larger than {protocol.MAX_SNAPSHOT_BYTES} bytes")
        if not service.busy.acquire(blocking=False):
            raise errors.RateLimited("the builder runs one build at a time", retry_after=5)
        try:
            classes = request.headers.get(protocol.CLASSES_HEADER) == "1"
            run = _Run.prepare(service, request.stream, budget_s, classes=classes)
        except BaseException:
            service.busy.release()
            raise
        return flask.Response(run, mimetype="application/json")
    except errors.AppgenError as exc:
        return error_response(exc)
    except Exception:
        log.exception("builder crashed", extra={"action": "builder.crash", "path": request.path})
        return error_response(errors.AppgenError())


class _Run:
    """One build: its directory, the thread that builds, and the streamed answer (the WSGI iterable).

    The thread owns the directory and the service's `busy` lock from `prepare` on: it removes the one
    and releases the other when the build ends, whether the answer was read or the caller went away
    (then the server calls `close`, which stops the build's boxes)."""

    def __init__(
        self,
        service: BuilderService,
        root: Path,
        budget_s: float,
        rendered: tuple[render.RenderPage, ...],
        classes: bool = False,
    ):
        self.service = service
        self.root = root
        self.rendered = rendered
        self.deadline = time.monotonic() + budget_s
        self.stop = threading.Event()
        self.done = threading.Event()
        self.answer = b""
        self.classes = classes  # the caller asked for the stylesheets' class names

    @classmethod
    def prepare(
        cls, service: BuilderService, body: IO[bytes], budget_s: float, *, classes: bool = False
    ) -> _Run:
        """Receive and unpack the snapshot (a 4xx error when it cannot be built), then start the build."""
        root = service.settings.work_dir / f"build-{uuid.uuid4().hex}"
        root.mkdir(parents=True, mode=0o755)
        try:
            archive = root / "snapshot.tar.gz"
            _receive(body, archive)
            _check_members(archive)
            ws = root / "ws"
            snapshots.unpack(archive, ws)
            archive.unlink()
            try:
                rendered = render_request.take_render_request(ws)
            except ValueError as exc:
                raise errors.InvalidRequest(f"the render request is not valid: {exc}") from None
            lockfile = ws / "package-lock.json"
            if not lockfile.is_file() or lock_key(lockfile.read_bytes()) != service.builder.starter_key:
                raise errors.Conflict(
                    "the workspace's package-lock.json is not this builder's starter lockfile: the worker "
                    "and the builder run different starters (a deploy in progress?)"
                )
        except StepFailed as exc:  # the safe extraction refused a member (`unsafe_archive`)
            shutil.rmtree(root, ignore_errors=True)
            raise errors.UnsafeArchive(exc.message) from None
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        run = cls(service, root, budget_s, rendered, classes)
        threading.Thread(target=run._build, args=(ws,), name="appgen-build", daemon=True).start()
        return run

    def __iter__(self) -> Iterator[bytes]:
        while not self.done.wait(protocol.HEARTBEAT_S):
            yield protocol.HEARTBEAT
        yield self.answer

    def close(self) -> None:
        """Called by the server once the answer is sent or the caller is gone: stop what still runs."""
        self.stop.set()

    def _budget(self, limit_s: float) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise StepFailed("the job's time ran out before the build ended", code=ErrorCode.TIMEOUT)
        return min(limit_s, remaining)

    def _build(self, ws: Path) -> None:
        started = time.monotonic()
        try:
            answer = self._answer(ws)
            if self.stop.is_set():
                outcome = "abandoned by its caller"
            else:
                outcome = answer.get("error", {}).get("code") or ("failed" if _failed(answer) else "passed")
            self.answer = json.dumps(answer).encode()
        except Exception:  # the answer itself is broken: say so rather than send nothing
            log.exception("build answer crashed", extra={"action": "builder.build_crash"})
            outcome = str(ErrorCode.INTERNAL)
            self.answer = json.dumps(_crashed()).encode()
        finally:  # whatever happened, the next build finds the builder empty and free
            shutil.rmtree(self.root, ignore_errors=True)
            self.service.busy.release()
            self.done.set()
        log.info(
            f"build {outcome} in {time.monotonic() - started:.1f} s",
            extra={"action": "builder.build", "outcome": outcome},
        )

    def _answer(self, ws: Path) -> dict[str, Any]:
        """The build's result, or the error that ended it."""
        try:
            request = BuildRequest(ws, self._budget, self.stop.is_set, self.rendered)
            result = self.service.builder.build(request)
            return protocol.encode_result(result, classes=self.classes)
        except StepFailed as exc:
            return protocol.encode_error(exc)
        except Exception:
            log.exception("build crashed", extra={"action": "builder.build_crash"})
            return _crashed()


def _crashed() -> dict[str, Any]:
    return protocol.encode_error(StepFailed("the build crashed", code=ErrorCode.INTERNAL))


def _failed(answer: dict[str, Any]) -> bool:
    commands = [answer["result"][slot] for slot in ("install", "build", "lint")]
    return any(command is not None and command["exitCode"] != 0 for command in commands)


def _receive(body: IO[bytes], dest: Path) -> None:
    """Write the request's body to `dest`, refusing it past the size limit."""
    size = 0
    with dest.open("wb") as out:
        while chunk := body.read(CHUNK):
            size += len(chunk)
            if size > protocol.MAX_SNAPSHOT_BYTES:
                raise errors.PayloadTooLarge(
                    f"the snapshot is larger than {protocol.MAX_SNAPSHOT_BYTES} bytes"
                )
            out.write(chunk)


def _check_members(archive: Path) -> None:
    """Refuse a snapshot that is not a gzip tarball, or unpacks to too many files or bytes, before
    anything of it is written."""
    total = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for count, member in enumerate(tar, 1):
                total += member.size
                if count > protocol.MAX_MEMBERS or total > protocol.MAX_UNPACKED_BYTES:
                    raise errors.PayloadTooLarge(
                        f"the snapshot unpacks to more than {protocol.MAX_MEMBERS} files or "
                        f"{protocol.MAX_UNPACKED_BYTES} bytes"
                    )
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise errors.InvalidRequest(f"the snapshot is not a gzip tarball: {type(exc).__name__}") from None
