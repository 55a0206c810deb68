"""Service functions behind the public API: each is one control-plane call plus what must follow it
(enqueueing what the database says to start). HTTP handlers stay thin around these."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import ValidationError

from appgen import errors
from appgen.gateway import ArtifactLocation, Caller, Dispatch, Row
from appgen.services import Services
from appgen.spec import GenerationSpec
from appgen.storage import SignedUrl


def parse_spec(body: Any) -> GenerationSpec:
    """The validated spec, or InvalidSpec naming every failing field path."""
    if not isinstance(body, dict):
        raise errors.InvalidSpec("the request body must be a JSON object (the generation_spec)")
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


def submit(services: Services, caller: Caller, body: Any, idempotency_key: str | None) -> tuple[UUID, bool]:
    spec = parse_spec(body)
    job_id, created = services.control_plane.submit_job(caller, spec.to_json(), idempotency_key)
    if created:
        services.dispatcher.dispatch_all([Dispatch("start", job_id, None)])
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
    services.dispatcher.dispatch_all(services.control_plane.cancel_job(caller, job_id))
    return services.control_plane.get_job(caller, job_id)


def start(services: Services, job_id: UUID) -> None:
    """The orchestrator's step: give the job a running slot if one is free, and dispatch its first task."""
    services.dispatcher.dispatch_all(services.control_plane.start_job(job_id))
