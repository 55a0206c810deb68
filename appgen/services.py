"""The process's wiring: which implementation of each port it uses, built once from the settings.

Functions and the worker call `services()`; the local stack builds its own `Services` and installs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from appgen.dispatch import Dispatcher, LocalDispatcher
from appgen.errors import ConfigError
from appgen.gateway import ControlPlane, PostgresTransport, RestTransport
from appgen.settings import Settings, load_settings
from appgen.storage import ARTIFACT_BUCKET, SCRATCH_BUCKET, LocalObjectStore, ObjectStore

if TYPE_CHECKING:
    from appgen.agents.runner import AgentRunner
    from appgen.pipeline.builder import Builder


@dataclass
class Services:
    settings: Settings
    control_plane: ControlPlane
    dispatcher: Dispatcher
    artifacts: ObjectStore
    scratch: ObjectStore
    _runner: AgentRunner | None = field(default=None, repr=False)

    @cached_property
    def runner(self) -> AgentRunner:
        """Built on first use, so processes that never run agents never need the gemini binary."""
        if self._runner is not None:
            return self._runner
        from appgen.agents.runner import GeminiCliRunner

        settings = self.settings
        if not settings.gemini_api_key:
            raise ConfigError("GEMINI_API_KEY is not set: the worker cannot run agents")
        return GeminiCliRunner(
            gemini_bin=settings.gemini_bin,
            model=settings.gemini_model,
            api_key=settings.gemini_api_key,
            base_url=settings.gemini_base_url,
            home_root=settings.work_dir / "gemini-homes",
        )

    @cached_property
    def builder(self) -> Builder:
        """Installs, builds and lints workspaces in sandboxes on this machine (`pipeline/builder.py`)."""
        from appgen.pipeline.builder import LocalBuilder
        from appgen.pipeline.install_cache import InstallCache

        settings = self.settings
        cache = InstallCache(
            settings.npm_cache or settings.data_dir / "npm-cache", settings.install_cache_max_mb * 1024 * 1024
        )
        return LocalBuilder(starter_dir=settings.starter_dir, cache=cache)

    def close(self) -> None:
        self.dispatcher.close()
        self.control_plane.transport.close()


def build_services(settings: Settings) -> Services:
    control_plane = _control_plane(settings)
    artifacts, scratch = _stores(settings)
    return Services(
        settings=settings,
        control_plane=control_plane,
        dispatcher=_dispatcher(settings),
        artifacts=artifacts,
        scratch=scratch,
    )


def _control_plane(settings: Settings) -> ControlPlane:
    """Direct Postgres when a DSN is configured; otherwise Supabase's REST API (RLS applies there too)."""
    if settings.database_url:
        return ControlPlane(PostgresTransport(settings.database_url))
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
