"""Service functions behind the public API: each is one control-plane call plus what must follow it
(enqueueing what the database says to start). HTTP handlers stay thin around these."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from appgen import errors
from appgen.gateway import ArtifactLocation, Caller, Dispatch, Row
from appgen.services import Services
from appgen.spec import parse_spec
from appgen.storage import SignedUrl

log = logging.getLogger(__name__)


def submit(services: Services, caller: Caller, body: Any, idempotency_key: str | None) -> tuple[UUID, bool]:
    if caller.claims is not None and caller.claims.get("is_anonymous") is True:
        raise errors.AnonymousUser()
    spec = parse_spec(body)
    job_id, created = services.control_plane.submit_job(caller, spec.to_json(), idempotency_key)
    if created:
        _dispatch_or_defer(services, [Dispatch("start", job_id, None)])
    return job_id, created


def status(services: Services, caller: Caller, job_id: UUID) -> Row:
    """The job as get_job answers the caller: kept by this process while the change feed vouches for
    it (appgen/gateway/answers.py), else read."""
    return services.job_answers.get_job(caller, job_id)


def status_version(services: Services, caller: Caller, job_id: UUID) -> int:
    """The job's version only: enough to tell whether a copy the caller holds is still current."""
    return services.job_answers.version(caller, job_id)


def list_jobs(services: Services, caller: Caller, project_id: UUID | None, limit: int) -> list[Row]:
    return services.control_plane.list_jobs(caller, project_id, limit)


def logs(services: Services, caller: Caller, job_id: UUID, after: int, limit: int) -> list[Row]:
    services.control_plane.get_job(caller, job_id)  # 404 for unknown or foreign jobs, not an empty page
    return services.control_plane.list_job_logs(caller, job_id, after, limit)


def download(services: Services, caller: Caller, job_id: UUID) -> SignedUrl:
    location: ArtifactLocation = services.control_plane.request_download(caller, job_id)
    return services.artifacts.signed_url(location.bucket, location.path)


def cancel(services: Services, caller: Caller, job_id: UUID) -> Row:
    dispatches = services.control_plane.cancel_job(caller, job_id)
    services.forget_job_answers(job_id)  # the next status request here reads the cancelled job
    _dispatch_or_defer(services, dispatches)
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
