"""The environment variables appgen reads: what each one means, and the parsers that turn a value into a
number or a flag with a message naming the variable. `appgen.settings.load_settings` is their one reader."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping

from appgen.errors import ConfigError

KNOWN = {
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
    "APPGEN_VENDOR_STYLESHEETS": "1: the worker fetches linked stylesheets no starter package provides into public/vendor/",
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

# Variables the CLI client and test tooling read, not the service.
IGNORED = {"APPGEN_API_URL", "APPGEN_TOKEN", "APPGEN_TEST_KEEP"}


def refuse_unknown(env: Mapping[str, str]) -> None:
    """An APPGEN_* variable nobody reads is almost always a typo: say what was probably meant."""
    for name in env:
        if name.startswith("APPGEN_") and name not in KNOWN and name not in IGNORED:
            guess = difflib.get_close_matches(name, list(KNOWN), n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            raise ConfigError(f"unknown setting {name}{hint}")


def flag(env: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {env.get(name)!r}")


def number(env: Mapping[str, str], name: str, default: float, *, zero_means: str | None = None) -> float:
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
