"""Whether the settings describe a deployment that can work: each dispatcher, store and builder choice
has the variables it needs, cloud mode keeps nothing in local files, and a process serving users can
verify their tokens. Each check fails with a `ConfigError` that says what to fix."""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from appgen.errors import ConfigError

if TYPE_CHECKING:
    from appgen.settings import Settings


def check_choices(settings: Settings) -> None:
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
