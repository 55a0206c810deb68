"""`appgen dev`: the whole backend on one machine. Embedded PostgreSQL (unless APPGEN_DATABASE_URL is set),
migrations, the API and internal endpoints on one port, the local dispatcher, the worker, the cleanup
sweeps on a timer, and, without GEMINI_API_KEY, the offline Gemini API stand-in."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer

# The worker's modules (the pipeline, scaffolding, visual scoring with numpy and scipy) load with the stack:
# the internal endpoints import them on first use, which made the first job's first delivery wait about a
# second for them between submit and its first agent.
from appgen import sweepers, worker  # noqa: F401
from appgen.agents.runner import GeminiCliRunner
from appgen.dispatch import LocalDispatcher
from appgen.gateway import ControlPlane, PostgresTransport
from appgen.localstack.postgres import LocalPostgres
from appgen.localstack.server import create_app, serve
from appgen.migrate import migrate
from appgen.policy import POLICY
from appgen.redact import register_secret
from appgen.services import Services, build_runner, install
from appgen.settings import LOCAL_JWT_SECRET, Settings
from appgen.storage import LocalObjectStore

log = logging.getLogger(__name__)


@dataclass
class LocalStack:
    settings: Settings
    port: int = 8080
    services: Services | None = None
    database_dsn: str = ""
    _postgres: LocalPostgres | None = None
    _standin: Any = None
    _runner: GeminiCliRunner | None = None
    _server: BaseWSGIServer | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def api_url(self) -> str:
        return self.settings.public_url

    def start(self) -> LocalStack:
        """Start everything; on any failure, stop what was started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # The agents first: their Gemini CLI processes load while the database starts, so the first job's
        # page agents find one parked each (agents/warm.py), their start-up mostly done.
        settings = self._model_settings(settings)
        if settings.warm_agents is None:
            settings = settings.with_overrides(warm_agents=POLICY.page_parallelism)
        self._runner = build_runner(settings)
        self._runner.warm_up()
        if settings.database_url:
            self.database_dsn = settings.database_url
        else:
            self._postgres = LocalPostgres(settings.data_dir / "pg")
            self.database_dsn = self._postgres.start()
        migrate(self.database_dsn, settings.migrations_dir)

        settings = settings.with_overrides(
            database_url=self.database_dsn,
            internal_secret=settings.internal_secret or self._local_secret(),
        )
        if not settings.jwt_secret and not settings.supabase_jwks_url:
            # The one place the public local secret is used: `appgen token` signs with it by default.
            log.info(
                "verifying access tokens with the Supabase CLI's public local secret "
                "(set SUPABASE_JWT_SECRET or SUPABASE_URL to use a project's)",
                extra={"action": "dev.local_jwt_secret"},
            )
            settings = settings.with_overrides(jwt_secret=LOCAL_JWT_SECRET)
        register_secret(settings.internal_secret)

        # Bind first: the port (possibly ephemeral) is part of every URL the services hand out.
        self._server = serve(create_app(lambda: self._require_services()), "127.0.0.1", self.port)
        self.port = self._server.server_port
        self.settings = settings = settings.with_overrides(
            public_url=f"http://127.0.0.1:{self.port}",
            server_threads=None,  # werkzeug's threaded server: a thread per connection, no fixed pool
        )
        store = LocalObjectStore(settings.objects_dir, settings.public_url, settings.internal_secret)
        self.services = Services(
            settings=settings,
            control_plane=ControlPlane(PostgresTransport(self.database_dsn)),
            dispatcher=LocalDispatcher(settings.public_url, settings.internal_secret),
            artifacts=store,
            scratch=store,
            _runner=self._runner,
        )
        install(self.services)
        self._spawn("http", self._server.serve_forever)
        self._spawn("sweeper", self._sweep_periodically)

    def _model_settings(self, settings: Settings) -> Settings:
        """Real Gemini when a key is configured; otherwise the offline stand-in, which makes no edits."""
        if settings.gemini_api_key:
            return settings
        if settings.gemini_base_url:  # a model server of the operator's (tests: the scripted double)
            return settings.with_overrides(gemini_api_key="local-model-server")
        from appgen.agents.standin import GeminiStandIn

        self._standin = GeminiStandIn().start()
        return settings.with_overrides(
            gemini_api_key="offline-stand-in", gemini_base_url=self._standin.url, offline_model=True
        )

    def _local_secret(self) -> str:
        """One random internal secret per data directory, kept so restarts honour earlier signed URLs."""
        path = self.settings.data_dir / "internal-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def _require_services(self) -> Services:
        if self.services is None:
            from appgen.errors import DependencyUnavailable

            raise DependencyUnavailable("the local stack is still starting")
        return self.services

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _sweep_periodically(self) -> None:
        # The first sweep runs at once: after a crash it re-sends what the dead process owed.
        wait = 0.0
        while not self._stopping.wait(wait):
            wait = self.settings.sweep_interval_s
            try:
                sweepers.sweep(self._require_services())
            except Exception:
                log.exception("sweep failed", extra={"action": "sweep.crash"})

    def ready_line(self) -> str:
        return f"appgen dev ready: api={self.api_url} database={self.database_dsn}"

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self.services is not None:
            self.services.close()
            install(None)
            self.services = None
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        if self._standin is not None:
            self._standin.stop()
            self._standin = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
