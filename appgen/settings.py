"""Configuration: read from environment variables at one entry point and validated with messages that
say what to fix. Nothing else in appgen reads `os.environ` for configuration."""

from __future__ import annotations

import difflib
import math
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from appgen.errors import ConfigError
from appgen.policy import POLICY
from appgen.redact import register_secret

REPO_ROOT = Path(__file__).resolve().parent.parent

# The Supabase CLI's well-known local JWT secret: public, so only ever right for a local stack. Nothing
# falls back to it; `appgen dev` and `appgen token` opt in to it when no verifier is configured.
LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"

_KNOWN = {
    "APPGEN_DATABASE_URL": "direct Postgres DSN of the control plane",
    "APPGEN_DB_POOL_SIZE": "most connections one process holds to APPGEN_DATABASE_URL",
    "APPGEN_DATABASE_LISTEN_URL": "session-mode Postgres DSN for the event streams' one LISTEN connection",
    "APPGEN_DATA_DIR": "where the local stack keeps its database and objects (default .appgen)",
    "APPGEN_PUBLIC_URL": "base URL of the API, used in signed download links",
    "APPGEN_INTERNAL_SECRET": "secret that signs internal task tokens and local download URLs",
    "APPGEN_CORS_ORIGINS": "comma-separated origins allowed to call the API from a browser",
    "APPGEN_WORK_DIR": "where the worker creates job workspaces (/workspace in the container)",
    "APPGEN_STARTER_DIR": "the Next.js starter template copied into every workspace",
    "APPGEN_GEMINI_BIN": "path of the gemini executable",
    "APPGEN_NPM_CACHE": "install cache shared across jobs: npm downloads and read-only node_modules trees",
    "APPGEN_INSTALL_SEED": "read-only install cache filled at setup (make deps, image build), consulted first",
    "APPGEN_INSTALL_CACHE_MAX_MB": "size above which the install cache drops least recently used trees",
    "APPGEN_VISUAL_FIDELITY": "0: skip the screenshots and visual scores of passing builds (text scores stay)",
    "APPGEN_PAGE_AGENT_TIMEOUT": "seconds a page agent may run",
    "APPGEN_AGENT_MAX_TURNS": "turn limit of each agent session",
    "APPGEN_WARM_AGENTS": "Gemini CLI processes kept started ahead of the next agents (0: none)",
    "APPGEN_TASK_LEASE_SECONDS": "how long a claimed task is a worker's without a heartbeat",
    "APPGEN_SWEEP_INTERVAL": "seconds between the local stack's cleanup sweeps",
    "APPGEN_DISPATCHER": "where tasks go: local (this process delivers them) or cloud-tasks",
    "APPGEN_GCP_PROJECT": "Google Cloud project of the Cloud Tasks queues",
    "APPGEN_TASKS_LOCATION": "region of the Cloud Tasks queues (e.g. europe-west1)",
    "APPGEN_TASKS_SERVICE_ACCOUNT": "service account whose OIDC token tasks carry (and internal endpoints accept)",
    "APPGEN_TASKS_AUDIENCE": "audience of that OIDC token (a custom audience of the orchestrate/worker services)",
    "APPGEN_TRUST_CLOUD_RUN_IAM": "1: accept that OIDC token with its signature removed by Cloud Run's IAM check",
    "APPGEN_ORCHESTRATE_URL": "base URL of the orchestrate Cloud Run service",
    "APPGEN_WORKER_URL": "base URL of the worker Cloud Run service",
    "APPGEN_ARTIFACT_STORE": "where ZIPs are kept: local, supabase (Storage bucket generated-apps) or gcs",
    "APPGEN_ARTIFACT_BUCKET": "GCS bucket of the artifacts when APPGEN_ARTIFACT_STORE=gcs",
    "APPGEN_SCRATCH_STORE": "where page bundles and workspace snapshots travel: local or gcs",
    "APPGEN_SCRATCH_BUCKET": "GCS bucket of the scratch objects when APPGEN_SCRATCH_STORE=gcs",
    "APPGEN_BUILDER": "where workspaces are built: local (boxes on this machine) or remote (the builder service)",
    "APPGEN_BUILDER_URL": "base URL of the builder service (APPGEN_BUILDER=remote)",
    "APPGEN_BUILDER_AUDIENCE": "audience of the worker's ID token for the builder (default: APPGEN_BUILDER_URL)",
    "APPGEN_BUILDER_CALLER": "the builder service: the one service account it accepts (the worker's)",
    "SUPABASE_JWT_SECRET": "secret of the project's HS256 access tokens",
    "SUPABASE_URL": "the Supabase project URL",
    "SUPABASE_JWKS_URL": "JWKS of the project's asymmetric signing keys (default: from SUPABASE_URL)",
    "SUPABASE_JWT_ISSUER": "required `iss` of access tokens (unchecked when unset)",
    "SUPABASE_ANON_KEY": "the project's anon/publishable key (REST transport, user calls)",
    "SUPABASE_SERVICE_ROLE_KEY": "the project's service role/secret key (REST transport, service calls)",
    "APPGEN_RATE_LIMIT_PER_MINUTE": "requests per minute and user on status/logs/list/download",
    "APPGEN_EVENTS_HEARTBEAT_SECONDS": "seconds without an event after which a job event stream sends `: ping`",
    "APPGEN_EVENTS_LIFETIME_SECONDS": "seconds a job event stream stays open before the client reconnects",
    "APPGEN_EVENTS_PER_USER": "job event streams one user may hold open on one instance",
    "APPGEN_EVENTS_PER_INSTANCE": "job event streams one instance holds open at most",
    "APPGEN_EVENTS_POLL_SECONDS": "how often a job event stream re-reads its job over Supabase's REST API",
    "APPGEN_EVENTS_WRITE_TIMEOUT_SECONDS": "seconds a job event stream waits on a client that reads nothing",
    "THREADS": "threads of the Functions Framework's server (gunicorn) per instance; default 4 per CPU",
    "GEMINI_API_KEY": "the server-level Gemini API key",
    "GEMINI_MODEL": "the Gemini model the agents use",
    "GOOGLE_GEMINI_BASE_URL": "base URL of the Gemini API (tests and the offline stand-in)",
}


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
    # Cloud mode: Cloud Tasks dispatch and the stores (see _check_cloud for what each choice needs).
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
    _warn_unknown(env)
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
            _number(env, "APPGEN_RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute, zero_means="off")
        ),
        events_heartbeat_s=_number(env, "APPGEN_EVENTS_HEARTBEAT_SECONDS", defaults.events_heartbeat_s),
        events_lifetime_s=_number(env, "APPGEN_EVENTS_LIFETIME_SECONDS", defaults.events_lifetime_s),
        events_per_user=int(_number(env, "APPGEN_EVENTS_PER_USER", defaults.events_per_user)),
        events_per_instance=int(_number(env, "APPGEN_EVENTS_PER_INSTANCE", defaults.events_per_instance)),
        events_poll_s=_number(env, "APPGEN_EVENTS_POLL_SECONDS", defaults.events_poll_s),
        events_write_timeout_s=_number(
            env, "APPGEN_EVENTS_WRITE_TIMEOUT_SECONDS", defaults.events_write_timeout_s
        ),
        # The Functions Framework's own variable and default (functions_framework/_http/gunicorn.py).
        server_threads=int(_number(env, "THREADS", (os.cpu_count() or 1) * 4)),
        behind_google_front_end=bool(env.get("K_SERVICE")),
        cors_origins=tuple(o.strip() for o in env.get("APPGEN_CORS_ORIGINS", "").split(",") if o.strip()),
        work_dir=Path(env.get("APPGEN_WORK_DIR", str(defaults.work_dir))),
        starter_dir=Path(env.get("APPGEN_STARTER_DIR", str(defaults.starter_dir))),
        gemini_bin=Path(env.get("APPGEN_GEMINI_BIN", str(defaults.gemini_bin))),
        gemini_api_key=env.get("GEMINI_API_KEY") or None,
        gemini_base_url=env.get("GOOGLE_GEMINI_BASE_URL") or None,
        gemini_model=env.get("GEMINI_MODEL", defaults.gemini_model),
        npm_cache=Path(env["APPGEN_NPM_CACHE"]) if env.get("APPGEN_NPM_CACHE") else None,
        install_cache_max_mb=int(_number(env, "APPGEN_INSTALL_CACHE_MAX_MB", defaults.install_cache_max_mb)),
        visual_fidelity=_flag(env, "APPGEN_VISUAL_FIDELITY", default=True),
        install_seed=Path(env.get("APPGEN_INSTALL_SEED", str(defaults.install_seed))),
        db_pool_size=int(_number(env, "APPGEN_DB_POOL_SIZE", defaults.db_pool_size)),
        page_agent_timeout_s=_number(env, "APPGEN_PAGE_AGENT_TIMEOUT", defaults.page_agent_timeout_s),
        agent_max_turns=int(_number(env, "APPGEN_AGENT_MAX_TURNS", defaults.agent_max_turns)),
        warm_agents=(
            int(_number(env, "APPGEN_WARM_AGENTS", 0, zero_means="none"))
            if env.get("APPGEN_WARM_AGENTS")
            else None
        ),
        task_lease_s=int(_number(env, "APPGEN_TASK_LEASE_SECONDS", defaults.task_lease_s)),
        sweep_interval_s=_number(env, "APPGEN_SWEEP_INTERVAL", defaults.sweep_interval_s),
        dispatcher=env.get("APPGEN_DISPATCHER") or defaults.dispatcher,
        gcp_project=env.get("APPGEN_GCP_PROJECT") or None,
        tasks_location=env.get("APPGEN_TASKS_LOCATION") or None,
        tasks_service_account=env.get("APPGEN_TASKS_SERVICE_ACCOUNT") or None,
        tasks_audience=env.get("APPGEN_TASKS_AUDIENCE") or None,
        trust_cloud_run_iam=_flag(env, "APPGEN_TRUST_CLOUD_RUN_IAM"),
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
    _check_cloud(settings)
    for secret in (
        settings.jwt_secret,
        settings.internal_secret,
        settings.gemini_api_key,
        settings.supabase_service_role_key,
    ):
        register_secret(secret)
    return settings


def _check_cloud(settings: Settings) -> None:
    """Each dispatcher and store choice names the variables it still needs."""
    needs: dict[str, list[tuple[str, object]]] = {}
    choices = (
        ("APPGEN_DISPATCHER", settings.dispatcher, ("local", "cloud-tasks")),
        ("APPGEN_ARTIFACT_STORE", settings.artifact_store, ("local", "supabase", "gcs")),
        ("APPGEN_SCRATCH_STORE", settings.scratch_store, ("local", "gcs")),
        ("APPGEN_BUILDER", settings.builder, ("local", "remote")),
    )
    for name, value, allowed in choices:
        if value not in allowed:
            guess = difflib.get_close_matches(value, allowed, n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}{hint}")
    if settings.dispatcher == "cloud-tasks":
        needs["APPGEN_DISPATCHER=cloud-tasks"] = [
            ("APPGEN_GCP_PROJECT", settings.gcp_project),
            ("APPGEN_TASKS_LOCATION", settings.tasks_location),
            ("APPGEN_TASKS_SERVICE_ACCOUNT", settings.tasks_service_account),
            ("APPGEN_TASKS_AUDIENCE", settings.tasks_audience),
            ("APPGEN_ORCHESTRATE_URL", settings.orchestrate_url),
            ("APPGEN_WORKER_URL", settings.worker_url),
        ]
    if settings.artifact_store == "supabase":
        needs["APPGEN_ARTIFACT_STORE=supabase"] = [
            ("SUPABASE_URL", settings.supabase_url),
            ("SUPABASE_SERVICE_ROLE_KEY", settings.supabase_service_role_key),
        ]
    if settings.artifact_store == "gcs":  # GCS bucket names are global: there is no safe default
        needs["APPGEN_ARTIFACT_STORE=gcs"] = [("APPGEN_ARTIFACT_BUCKET", settings.artifact_bucket)]
    if settings.scratch_store == "gcs":
        needs["APPGEN_SCRATCH_STORE=gcs"] = [("APPGEN_SCRATCH_BUCKET", settings.scratch_bucket)]
    if settings.builder == "remote":
        needs["APPGEN_BUILDER=remote"] = [("APPGEN_BUILDER_URL", settings.builder_url)]
    for choice, required in needs.items():
        missing = [name for name, value in required if not value]
        if missing:
            raise ConfigError(f"{choice} needs {', '.join(missing)} (not set)")
    if settings.builder_url:
        _check_builder_url(settings.builder_url)
    if settings.dispatcher == "cloud-tasks":
        # Local files are neither shared between Cloud Run instances nor served by anything but `appgen
        # dev` (their signed links included): in the cloud they would lose every artifact and snapshot.
        for name, value, cloud in (
            ("APPGEN_ARTIFACT_STORE", settings.artifact_store, "supabase or gcs"),
            ("APPGEN_SCRATCH_STORE", settings.scratch_store, "gcs"),
        ):
            if value == "local":
                raise ConfigError(f"APPGEN_DISPATCHER=cloud-tasks needs {name}={cloud}, not local files")
        _check_private_dir("APPGEN_DATA_DIR", settings.data_dir)


def _check_builder_url(url: str) -> None:
    """The worker sends its ID token and the tenant's workspace there: HTTPS, or plain HTTP to this
    machine only (tests, a builder on the same host)."""
    parsed = urlsplit(url)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme not in ("https", "http") or not parsed.hostname or parsed.path not in ("", "/"):
        raise ConfigError(
            f"APPGEN_BUILDER_URL must be the builder service's base URL, like https://appgen-builder-…run.app, "
            f"got {url!r}"
        )
    if parsed.scheme == "http" and not loopback:
        raise ConfigError(
            f"APPGEN_BUILDER_URL must use https (plain http only to 127.0.0.1 or localhost), got {url!r}"
        )


def _check_private_dir(name: str, path: Path) -> None:
    """Cloud mode: the data dir (the npm cache, unless APPGEN_NPM_CACHE moves it) may be written by this
    service's user only: not by every user, not by a group other than its own, not owned by another
    user (who could change that) — so neither the unprivileged user builds run as (`nobody`) nor anyone
    else can plant files in it. A directory that does not exist yet is created by the service itself."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    where = f"{name} ({path})"
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{where} is not a directory")
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"{where} belongs to uid {info.st_uid}, not to this service's user (uid {os.geteuid()})"
        )
    if info.st_mode & stat.S_IWOTH:
        raise ConfigError(f"{where} is writable by every user (mode {info.st_mode & 0o7777:o}): chmod o-w it")
    if info.st_mode & stat.S_IWGRP and info.st_gid != os.getegid():
        raise ConfigError(
            f"{where} is writable by group {info.st_gid}, not only by this service's user: chmod g-w it"
        )


def check_user_verifier(settings: Settings) -> None:
    """A process that serves users must be able to verify their access tokens with the project's own
    secret or keys; the Supabase CLI's public local secret is never a silent default (anyone could sign
    tokens with it)."""
    if not settings.jwt_secret and not settings.supabase_jwks_url:
        raise ConfigError(
            "no way to verify users' access tokens: set SUPABASE_JWT_SECRET (the project's JWT secret) "
            "and/or SUPABASE_URL or SUPABASE_JWKS_URL (its signing keys); only `appgen dev` falls back "
            "to the Supabase CLI's public local secret"
        )


def _flag(env: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {env.get(name)!r}")


def _number(env: Mapping[str, str], name: str, default: float, *, zero_means: str | None = None) -> float:
    """A positive number; 0 too when `zero_means` says what it does (e.g. "off")."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and zero_means is None):
        allowed = f"positive or 0 ({zero_means})" if zero_means else "positive"
        raise ConfigError(f"{name} must be {allowed}, got {raw!r}")
    return value


def _warn_unknown(env: Mapping[str, str]) -> None:
    """An APPGEN_* variable nobody reads is almost always a typo: say what was probably meant."""
    for name in env:
        if name.startswith("APPGEN_") and name not in _KNOWN and name not in _IGNORED:
            guess = difflib.get_close_matches(name, list(_KNOWN), n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            raise ConfigError(f"unknown setting {name}{hint}")


# Variables the CLI client and test tooling read, not the service.
_IGNORED = {"APPGEN_API_URL", "APPGEN_TOKEN", "APPGEN_TEST_KEEP"}
