"""Service functions behind the public API: each is one control-plane call plus what must follow it
(enqueueing what the database says to start). HTTP handlers stay thin around these."""

from __future__ import annotations

import logging
import math
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from appgen import errors
from appgen.gateway import ArtifactLocation, Caller, Dispatch, Row
from appgen.services import Services
from appgen.spec import GenerationSpec
from appgen.storage import SignedUrl

log = logging.getLogger(__name__)


def parse_spec(body: Any) -> GenerationSpec:
    """The validated spec, or InvalidSpec naming every failing field path."""
    if not isinstance(body, dict):
        raise errors.InvalidSpec("the request body must be a JSON object (the generation_spec)")
    unstorable = list(_unstorable(body))
    if unstorable:
        raise errors.InvalidSpec(details=unstorable)
    try:
        return GenerationSpec.model_validate(body)
    except ValidationError as exc:
        details = [{"path": field_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise errors.InvalidSpec(details=details) from None


def field_path(loc: tuple[int | str, ...]) -> str:
    """pydantic's location as a path a frontend developer can read: `pages[0].route`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("str", "PaletteColor", "FontChoice") or "[" in str(part):
            continue  # union member names pydantic adds to locations
        else:
            path += f".{part}" if path else str(part)
    return path or "(body)"


def _unstorable(body: Any) -> list[dict[str, str]]:
    """Values JSON allows but Postgres `jsonb` cannot store (NUL characters, lone UTF-16 surrogates,
    NaN/Infinity), as field-path details: refused here rather than failing inside the database."""
    found: list[dict[str, str]] = []
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), body)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if _bad_text(key):
                    found.append({"path": field_path(loc), "message": "a key holds an unstorable character"})
                stack.append(((*loc, key), child))
        elif isinstance(value, list):
            stack.extend(((*loc, i), child) for i, child in enumerate(value))
        elif isinstance(value, str) and _bad_text(value):
            found.append(
                {"path": field_path(loc), "message": "NUL characters and lone surrogates are not allowed"}
            )
        elif isinstance(value, float) and not math.isfinite(value):
            found.append({"path": field_path(loc), "message": "NaN and Infinity are not JSON numbers"})
    return sorted(found, key=lambda d: d["path"])


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def submit(services: Services, caller: Caller, body: Any, idempotency_key: str | None) -> tuple[UUID, bool]:
    if caller.claims is not None and caller.claims.get("is_anonymous") is True:
        raise errors.AnonymousUser()
    spec = parse_spec(body)
    job_id, created = services.control_plane.submit_job(caller, spec.to_json(), idempotency_key)
    if created:
        _dispatch_or_defer(services, [Dispatch("start", job_id, None)])
    return job_id, created


def status(services: Services, caller: Caller, job_id: UUID) -> Row:
    return services.control_plane.get_job(caller, job_id)


def list_jobs(services: Services, caller: Caller, project_id: UUID | None, limit: int) -> list[Row]:
    return services.control_plane.list_jobs(caller, project_id, limit)


def logs(services: Services, caller: Caller, job_id: UUID, after: int, limit: int) -> list[Row]:
    services.control_plane.get_job(caller, job_id)  # 404 for unknown or foreign jobs, not an empty page
    return services.control_plane.list_job_logs(caller, job_id, after, limit)


def download(services: Services, caller: Caller, job_id: UUID) -> SignedUrl:
    location: ArtifactLocation = services.control_plane.request_download(caller, job_id)
    return services.artifacts.signed_url(location.bucket, location.path)


def cancel(services: Services, caller: Caller, job_id: UUID) -> Row:
    _dispatch_or_defer(services, services.control_plane.cancel_job(caller, job_id))
    return services.control_plane.get_job(caller, job_id)


def start(services: Services, job_id: UUID) -> None:
    """The orchestrator's step: give the job a running slot if one is free, and dispatch its first task."""
    services.dispatcher.dispatch_all(services.control_plane.start_job(job_id))


def _dispatch_or_defer(services: Services, dispatches: list[Dispatch]) -> None:
    """Enqueue what a user's request made the database decide. The decision is already committed, so a
    queue outage must not turn the answer into an error (a retry would submit a second job): the cleanup
    sweep sends every start the database is still owed."""
    try:
        services.dispatcher.dispatch_all(dispatches)
    except errors.DependencyUnavailable as exc:
        log.warning(
            "enqueue failed (%s); the cleanup sweep will send it",
            exc.message,
            extra={"action": "dispatch.defer"},
        )
