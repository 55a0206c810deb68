"""The process's wiring: which implementation of each port it uses, built once from the settings.

Functions and the worker call `services()`; the local stack builds its own `Services` and installs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING
from uuid import UUID

from appgen.dispatch import Dispatcher, LocalDispatcher
from appgen.errors import ConfigError
from appgen.events import StreamSlots
from appgen.gateway import ControlPlane, JobAnswers, JobChanges, PostgresTransport, RestTransport
from appgen.ratelimit import RateLimiter
from appgen.settings import Settings, load_settings
from appgen.settings_checks import check_user_verifier
from appgen.storage import ARTIFACT_BUCKET, SCRATCH_BUCKET, LocalObjectStore, ObjectStore

if TYPE_CHECKING:
    from appgen.agents.runner import AgentRunner, GeminiCliRunner
    from appgen.pipeline.builder import Builder, LocalBuilder
    from appgen.pipeline.stylesheet_fetch import StylesheetFetcher


@dataclass
class Services:
    settings: Settings
    control_plane: ControlPlane
    dispatcher: Dispatcher
    artifacts: ObjectStore
    scratch: ObjectStore
    _runner: AgentRunner | None = field(default=None, repr=False)
    _stylesheet_fetcher: StylesheetFetcher | None = field(default=None, repr=False)
    # The public API's rate-limit buckets (appgen.http_api): per user on the cheap endpoints, and per
    # client address for requests without a valid token. In memory, so per instance, like the services.
    user_limits: RateLimiter = field(default_factory=RateLimiter, repr=False)
    address_limits: RateLimiter = field(
        default_factory=lambda: RateLimiter(
            refusal="at most {per_minute} requests per minute without a valid access token from one address"
        ),
        repr=False,
    )
    # The open job event streams of this instance (appgen.events), counted per user.
    streams: StreamSlots = field(default_factory=StreamSlots, repr=False)
    _job_changes: JobChanges | None = field(default=None, repr=False)
    _job_changes_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _job_answers: JobAnswers | None = field(default=None, repr=False)
    _job_answers_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def job_changes(self) -> JobChanges:
        """What wakes the event streams: LISTEN/NOTIFY over a direct connection, else a poll. Built by
        the first stream (once: concurrent first streams share it), so processes that serve none never
        hold a listening connection."""
        with self._job_changes_lock:
            if self._job_changes is None:
                self._job_changes = self.control_plane.transport.job_changes(self.settings.events_poll_s)
            return self._job_changes

    @property
    def job_answers(self) -> JobAnswers:
        """The status route's kept answers of get_job (appgen/gateway/answers.py), invalidated by the job
        change feed. Built by the first status request, in the process that serves it (after gunicorn's
        fork), so processes that serve none hold no listening connection for it."""
        with self._job_answers_lock:
            if self._job_answers is None:
                self._job_answers = JobAnswers(self.control_plane, self.job_changes)
            return self._job_answers

    def forget_job_answers(self, job_id: UUID) -> None:
        """This process changed the job: its kept answers go now, not when the notification is back."""
        with self._job_answers_lock:
            answers = self._job_answers
        if answers is not None:
            answers.forget(job_id)

    @cached_property
    def runner(self) -> AgentRunner:
        """Built on first use, so processes that never run agents never need the gemini binary."""
        if self._runner is not None:
            return self._runner
        return build_runner(self.settings)

    @property
    def stylesheet_fetcher(self) -> StylesheetFetcher | None:
        """What fetches the stylesheets the scaffold vendors, or None when vendoring is off
        (`APPGEN_VENDOR_STYLESHEETS`); tests give one that answers from a stand-in transport."""
        if not self.settings.vendor_stylesheets:
            return None
        if self._stylesheet_fetcher is None:
            from appgen.pipeline.stylesheet_fetch import StylesheetFetcher

            self._stylesheet_fetcher = StylesheetFetcher()
        return self._stylesheet_fetcher

    @cached_property
    def builder(self) -> Builder:
        """Installs, builds and lints workspaces: in sandboxes on this machine (`pipeline/builder.py`), or
        in the builder service (`APPGEN_BUILDER=remote`, `pipeline/remote_builder.py`)."""
        settings = self.settings
        if settings.builder == "remote":  # load_settings checked the URL
            from appgen.pipeline.remote_builder import RemoteBuilder

            url = settings.builder_url or ""
            return RemoteBuilder(url, settings.builder_audience or url)
        return local_builder(settings)

    def close(self) -> None:
        if self._job_changes is not None:  # ends the open streams
            self._job_changes.close()
        self.dispatcher.close()
        self.control_plane.transport.close()
        # The runner only when it was built (a cached_property): it ends its parked agents.
        close_runner = getattr(self.__dict__.get("runner"), "close", None)
        if close_runner is not None:
            close_runner()


def build_services(settings: Settings) -> Services:
    """Every port, or a ConfigError naming what is missing (then nothing is left running)."""
    artifacts, scratch = _stores(settings)
    dispatcher = _dispatcher(settings)
    try:
        control_plane = _control_plane(settings)
    except BaseException:
        dispatcher.close()
        raise
    return Services(
        settings=settings,
        control_plane=control_plane,
        dispatcher=dispatcher,
        artifacts=artifacts,
        scratch=scratch,
    )


def build_runner(settings: Settings) -> GeminiCliRunner:
    """The Gemini CLI runner of the settings' model, or a ConfigError without a key."""
    from appgen.agents.runner import GeminiCliRunner

    if not settings.gemini_api_key:
        raise ConfigError("GEMINI_API_KEY is not set: the worker cannot run agents")
    return GeminiCliRunner(
        gemini_bin=settings.gemini_bin,
        model=settings.gemini_model,
        api_key=settings.gemini_api_key,
        base_url=settings.gemini_base_url,
        home_root=settings.work_dir / "gemini-homes",
        warm=1 if settings.warm_agents is None else settings.warm_agents,
    )


def check_ready(*, serves_users: bool = False, runs_agents: bool = False) -> None:
    """Build the process's services now, at start-up: entry points call this when they are imported, so
    configuration that is incomplete or unsafe stops the process with the reason instead of answering
    every request with 500 `config_error`. `serves_users`: the process verifies users' access tokens;
    `runs_agents`: it runs the pipeline's Gemini CLI agents.

    A database that cannot be reached is not a configuration error: the process starts, its requests
    answer 503 and the connection pool keeps trying (see `PostgresTransport`)."""
    try:
        with _lock:
            settings = _current.settings if _current is not None else None
        settings = settings or load_settings()
        if serves_users:
            check_user_verifier(settings)
        if runs_agents:
            _check_agents(settings)
        built = services()
        if runs_agents:
            built.runner  # noqa: B018 - built now, so a missing key fails the start
    except ConfigError as exc:
        raise SystemExit(f"appgen cannot start: {exc.message}") from None


def local_builder(settings: Settings, *, installs: bool = True) -> LocalBuilder:
    """The builder that runs boxes on this machine, over the install cache the settings name. One that
    installs (the local worker) first looks in the seed `make deps` filled; one that never installs (the
    builder service) reads only its own cache, which its image baked."""
    from appgen.pipeline.builder import LocalBuilder
    from appgen.pipeline.install_cache import InstallCache

    cache = InstallCache(
        settings.npm_cache or settings.data_dir / "npm-cache",
        settings.install_cache_max_mb * 1024 * 1024,
        seed=settings.install_seed if installs else None,
    )
    return LocalBuilder(starter_dir=settings.starter_dir, cache=cache, installs=installs)


def _check_agents(settings: Settings) -> None:
    if not settings.gemini_bin.is_file():
        raise ConfigError(f"the Gemini CLI is not installed at {settings.gemini_bin} (APPGEN_GEMINI_BIN)")
    if not settings.starter_dir.is_dir():
        raise ConfigError(f"the starter template is not at {settings.starter_dir} (APPGEN_STARTER_DIR)")
    if settings.builder == "remote":
        return  # the builder service builds every app; this process runs no box
    if settings.dispatcher == "cloud-tasks":
        raise ConfigError(
            "APPGEN_DISPATCHER=cloud-tasks needs APPGEN_BUILDER=remote: in the cloud the worker, which "
            "holds the secrets, never builds an app itself but sends it to the builder service"
        )
    from appgen import sandbox

    sandbox.check()  # the validate step builds every app in a box


def _control_plane(settings: Settings) -> ControlPlane:
    """Direct Postgres when a DSN is configured; otherwise Supabase's REST API (RLS applies there too)."""
    if settings.database_url:
        return ControlPlane(
            PostgresTransport(
                settings.database_url, listen_dsn=settings.database_listen_url, max_size=settings.db_pool_size
            )
        )
    rest = (settings.supabase_url, settings.supabase_anon_key, settings.supabase_service_role_key)
    if all(rest):
        url, anon_key, service_key = (str(value) for value in rest)
        return ControlPlane(RestTransport(url, anon_key, service_key))
    raise ConfigError(
        "no control plane configured: set APPGEN_DATABASE_URL (direct Postgres) or SUPABASE_URL, "
        "SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY (Supabase's REST API), "
        "or run the local stack: `appgen dev`"
    )


def _dispatcher(settings: Settings) -> Dispatcher:
    if settings.dispatcher == "cloud-tasks":  # load_settings checked that every value is there
        from appgen.cloud.tasks import CloudTasksDispatcher

        return CloudTasksDispatcher(
            project=settings.gcp_project or "",
            location=settings.tasks_location or "",
            service_account_email=settings.tasks_service_account or "",
            audience=settings.tasks_audience or "",
            target_urls={"orchestrate": settings.orchestrate_url or "", "worker": settings.worker_url or ""},
        )
    if not settings.internal_secret:
        raise ConfigError(
            "APPGEN_INTERNAL_SECRET is not set: the local dispatcher signs its task tokens with it "
            "(`appgen dev` keeps one per data dir; in the cloud set APPGEN_DISPATCHER=cloud-tasks)"
        )
    return LocalDispatcher(settings.public_url, settings.internal_secret)


def _stores(settings: Settings) -> tuple[ObjectStore, ObjectStore]:
    """(artifact store, scratch store): the cloud clients are imported only when the settings pick them."""
    built: dict[str, ObjectStore] = {}

    def store(kind: str) -> ObjectStore:
        if kind not in built:
            if kind == "supabase":
                from appgen.cloud.supabase_storage import SupabaseStorage

                built[kind] = SupabaseStorage(
                    settings.supabase_url or "", settings.supabase_service_role_key or ""
                )
            elif kind == "gcs":
                from appgen.cloud.gcs import GcsStore, default_client

                names = {ARTIFACT_BUCKET: settings.artifact_bucket, SCRATCH_BUCKET: settings.scratch_bucket}
                built[kind] = GcsStore(
                    default_client(settings.gcp_project),
                    {logical: real for logical, real in names.items() if real},
                )
            else:
                built[kind] = LocalObjectStore(
                    settings.objects_dir, settings.public_url, settings.internal_secret
                )
        return built[kind]

    return store(settings.artifact_store), store(settings.scratch_store)


_current: Services | None = None
_lock = threading.Lock()


def services() -> Services:
    global _current
    with _lock:
        if _current is None:
            _current = build_services(load_settings())
        return _current


def install(value: Services | None) -> None:
    """Make `value` the process's services (the local stack and tests); None forgets them."""
    global _current
    with _lock:
        _current = value
