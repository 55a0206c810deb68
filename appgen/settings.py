"""Configuration: read from environment variables at one entry point and validated with messages that
say what to fix. Nothing else in appgen reads `os.environ` for configuration.

`environment.py` lists the variables and parses their values; `settings_checks.py` checks that the
choices they make fit together."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from appgen.environment import flag, number, refuse_unknown
from appgen.errors import ConfigError
from appgen.policy import POLICY
from appgen.redact import register_secret
from appgen.settings_checks import check_choices

REPO_ROOT = Path(__file__).resolve().parent.parent

# The Supabase CLI's well-known local JWT secret: public, so only ever right for a local stack. Nothing
# falls back to it; `appgen dev` and `appgen token` opt in to it when no verifier is configured.
LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = REPO_ROOT / ".appgen"
    public_url: str = "http://127.0.0.1:8080"
    internal_secret: str = ""
    jwt_secret: str | None = None
    supabase_url: str | None = None
    supabase_jwks_url: str | None = None
    jwt_issuer: str | None = None
    supabase_anon_key: str | None = None
    supabase_service_role_key: str | None = None
    rate_limit_per_minute: int = 120
    # The job event streams (appgen/events.py): heartbeat, lifetime (under Cloud Run's default 300 s request
    # timeout; clients reconnect with Last-Event-ID), open streams per user and per instance, the poll
    # interval over Supabase's REST API, and how long a write may wait on a client that stopped reading.
    events_heartbeat_s: float = 15.0
    events_lifetime_s: float = 240.0
    events_per_user: int = 5
    events_per_instance: int = 50
    events_poll_s: float = 2.0
    events_write_timeout_s: float = 20.0
    # Threads of the server in front of the app when it has a fixed pool: the Functions Framework serves
    # the targets with gunicorn's threaded worker, `THREADS` of them (default 4 per CPU). Each open event
    # stream holds one for its lifetime, so streams may take at most half (`events_instance_cap`) and a
    # stream never blocks the status, logs or submit requests of the same instance. None: a thread per
    # connection (`appgen dev`'s werkzeug server).
    server_threads: int | None = None
    # Cloud Run (it sets K_SERVICE): requests come through Google's front end, which appends the address
    # it received them from to X-Forwarded-For. Elsewhere only the connection's own address is known.
    behind_google_front_end: bool = False
    cors_origins: tuple[str, ...] = ()
    work_dir: Path = Path(tempfile.gettempdir()) / "appgen-work"
    starter_dir: Path = REPO_ROOT / "worker_container" / "starter"
    # The built /build reference frontend that `appgen dev` serves (`make deps` builds web/ into it).
    web_dist_dir: Path = REPO_ROOT / "web" / "dist"
    migrations_dir: Path = REPO_ROOT / "supabase" / "migrations"
    gemini_bin: Path = REPO_ROOT / "worker_container" / "node_modules" / ".bin" / "gemini"
    gemini_api_key: str | None = None
    gemini_base_url: str | None = None
    gemini_model: str = "gemini-2.5-pro"
    npm_cache: Path | None = None
    install_cache_max_mb: int = 2048
    visual_fidelity: bool = True
    # The scaffold step fetches the stylesheets previews link that no starter package provides and vendors
    # them under public/vendor/ (`pipeline/stylesheet_fetch.py`): on in the cloud worker, off locally so
    # `appgen dev` and the tests reach no internet (the links stay runtime links with a warning).
    vendor_stylesheets: bool = False
    # The read-only install cache `make deps` (scripts/seed-install-cache) fills: a fresh data dir uses it.
    install_seed: Path = REPO_ROOT / "worker_container" / "install-seed"
    db_pool_size: int = 10
    database_listen_url: str | None = None
    page_agent_timeout_s: float = 600.0
    agent_max_turns: int = 40
    # Gemini CLI processes kept started, their modules loaded, for the next agents (agents/warm.py). None:
    # one per worker, and in `appgen dev` one per page agent that can run at once.
    warm_agents: int | None = None
    offline_model: bool = False
    # A live worker renews its lease every quarter of it; a dead worker's task is re-sent once it lapses.
    task_lease_s: int = POLICY.task_lease_seconds
    sweep_interval_s: float = float(POLICY.sweep_interval_seconds)
    # Cloud mode: Cloud Tasks dispatch and the stores (see settings_checks for what each choice needs).
    dispatcher: str = "local"
    gcp_project: str | None = None
    tasks_location: str | None = None
    tasks_service_account: str | None = None
    tasks_audience: str | None = None
    # The service is private (`--no-allow-unauthenticated`), so Cloud Run IAM verified the token's signature
    # before the request got here, and may have removed it (`appgen/cloud/oidc.py`).
    trust_cloud_run_iam: bool = False
    orchestrate_url: str | None = None
    worker_url: str | None = None
    artifact_store: str = "local"
    artifact_bucket: str | None = None
    scratch_store: str = "local"
    scratch_bucket: str | None = None
    # Where workspaces are built (`appgen/pipeline/builder.py`): boxes on this machine, or the builder
    # service, which the worker calls with an ID token for `builder_audience` and which accepts only
    # `builder_caller`'s (`appgen/builder_service.py`).
    builder: str = "local"
    builder_url: str | None = None
    builder_audience: str | None = None
    builder_caller: str | None = None

    @property
    def events_instance_cap(self) -> int:
        """Open event streams this instance serves at most: `events_per_instance`, and half of a fixed
        pool of server threads (the other half stays free for every other request)."""
        if self.server_threads is None:
            return self.events_per_instance
        return min(self.events_per_instance, self.server_threads // 2)

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment (or `env`), failing with a message naming the variable."""
    env = os.environ if env is None else env
    refuse_unknown(env)
    defaults = Settings()
    data_dir = Path(env.get("APPGEN_DATA_DIR", str(defaults.data_dir))).resolve()
    settings = Settings(
        database_url=env.get("APPGEN_DATABASE_URL") or None,
        database_listen_url=env.get("APPGEN_DATABASE_LISTEN_URL") or None,
        data_dir=data_dir,
        public_url=env.get("APPGEN_PUBLIC_URL", defaults.public_url).rstrip("/"),
        internal_secret=env.get("APPGEN_INTERNAL_SECRET", ""),
        jwt_secret=env.get("SUPABASE_JWT_SECRET") or None,
        supabase_url=(env.get("SUPABASE_URL") or "").rstrip("/") or None,
        supabase_jwks_url=env.get("SUPABASE_JWKS_URL")
        or (
            f"{env['SUPABASE_URL'].rstrip('/')}/auth/v1/.well-known/jwks.json"
            if env.get("SUPABASE_URL")
            else None
        ),
        jwt_issuer=env.get("SUPABASE_JWT_ISSUER") or None,
        supabase_anon_key=env.get("SUPABASE_ANON_KEY") or None,
        supabase_service_role_key=env.get("SUPABASE_SERVICE_ROLE_KEY") or None,
        rate_limit_per_minute=int(
            number(env, "APPGEN_RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute, zero_means="off")
        ),
        events_heartbeat_s=number(env, "APPGEN_EVENTS_HEARTBEAT_SECONDS", defaults.events_heartbeat_s),
        events_lifetime_s=number(env, "APPGEN_EVENTS_LIFETIME_SECONDS", defaults.events_lifetime_s),
        events_per_user=int(number(env, "APPGEN_EVENTS_PER_USER", defaults.events_per_user)),
        events_per_instance=int(number(env, "APPGEN_EVENTS_PER_INSTANCE", defaults.events_per_instance)),
        events_poll_s=number(env, "APPGEN_EVENTS_POLL_SECONDS", defaults.events_poll_s),
        events_write_timeout_s=number(
            env, "APPGEN_EVENTS_WRITE_TIMEOUT_SECONDS", defaults.events_write_timeout_s
        ),
        # The Functions Framework's own variable and default (functions_framework/_http/gunicorn.py).
        server_threads=int(number(env, "THREADS", (os.cpu_count() or 1) * 4)),
        behind_google_front_end=bool(env.get("K_SERVICE")),
        cors_origins=tuple(o.strip() for o in env.get("APPGEN_CORS_ORIGINS", "").split(",") if o.strip()),
        work_dir=Path(env.get("APPGEN_WORK_DIR", str(defaults.work_dir))),
        starter_dir=Path(env.get("APPGEN_STARTER_DIR", str(defaults.starter_dir))),
        gemini_bin=Path(env.get("APPGEN_GEMINI_BIN", str(defaults.gemini_bin))),
        gemini_api_key=env.get("GEMINI_API_KEY") or None,
        gemini_base_url=env.get("GOOGLE_GEMINI_BASE_URL") or None,
        gemini_model=env.get("GEMINI_MODEL", defaults.gemini_model),
        npm_cache=Path(env["APPGEN_NPM_CACHE"]) if env.get("APPGEN_NPM_CACHE") else None,
        install_cache_max_mb=int(number(env, "APPGEN_INSTALL_CACHE_MAX_MB", defaults.install_cache_max_mb)),
        visual_fidelity=flag(env, "APPGEN_VISUAL_FIDELITY", default=True),
        vendor_stylesheets=flag(env, "APPGEN_VENDOR_STYLESHEETS"),
        install_seed=Path(env.get("APPGEN_INSTALL_SEED", str(defaults.install_seed))),
        db_pool_size=int(number(env, "APPGEN_DB_POOL_SIZE", defaults.db_pool_size)),
        page_agent_timeout_s=number(env, "APPGEN_PAGE_AGENT_TIMEOUT", defaults.page_agent_timeout_s),
        agent_max_turns=int(number(env, "APPGEN_AGENT_MAX_TURNS", defaults.agent_max_turns)),
        warm_agents=(
            int(number(env, "APPGEN_WARM_AGENTS", 0, zero_means="none"))
            if env.get("APPGEN_WARM_AGENTS")
            else None
        ),
        task_lease_s=int(number(env, "APPGEN_TASK_LEASE_SECONDS", defaults.task_lease_s)),
        sweep_interval_s=number(env, "APPGEN_SWEEP_INTERVAL", defaults.sweep_interval_s),
        dispatcher=env.get("APPGEN_DISPATCHER") or defaults.dispatcher,
        gcp_project=env.get("APPGEN_GCP_PROJECT") or None,
        tasks_location=env.get("APPGEN_TASKS_LOCATION") or None,
        tasks_service_account=env.get("APPGEN_TASKS_SERVICE_ACCOUNT") or None,
        tasks_audience=env.get("APPGEN_TASKS_AUDIENCE") or None,
        trust_cloud_run_iam=flag(env, "APPGEN_TRUST_CLOUD_RUN_IAM"),
        orchestrate_url=(env.get("APPGEN_ORCHESTRATE_URL") or "").rstrip("/") or None,
        worker_url=(env.get("APPGEN_WORKER_URL") or "").rstrip("/") or None,
        artifact_store=env.get("APPGEN_ARTIFACT_STORE") or defaults.artifact_store,
        artifact_bucket=env.get("APPGEN_ARTIFACT_BUCKET") or None,
        scratch_store=env.get("APPGEN_SCRATCH_STORE") or defaults.scratch_store,
        scratch_bucket=env.get("APPGEN_SCRATCH_BUCKET") or None,
        builder=env.get("APPGEN_BUILDER") or defaults.builder,
        builder_url=(env.get("APPGEN_BUILDER_URL") or "").rstrip("/") or None,
        builder_audience=env.get("APPGEN_BUILDER_AUDIENCE")
        or (env.get("APPGEN_BUILDER_URL") or "").rstrip("/")
        or None,
        builder_caller=env.get("APPGEN_BUILDER_CALLER") or None,
    )
    if settings.jwt_secret is not None and len(settings.jwt_secret) < 32:
        raise ConfigError("SUPABASE_JWT_SECRET must be at least 32 characters (Supabase's own minimum)")
    check_choices(settings)
    for secret in (
        settings.jwt_secret,
        settings.internal_secret,
        settings.gemini_api_key,
        settings.supabase_service_role_key,
    ):
        register_secret(secret)
    return settings
