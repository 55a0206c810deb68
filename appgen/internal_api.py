"""Internal endpoints: task deliveries from the queue (orchestrator and worker) and the cleanup sweep.

They never accept user tokens: only the dispatcher's token (locally an HMAC-signed JWT; in the cloud the
OIDC token Cloud Tasks sends, checked by Cloud Run IAM as well). Each cloud target serves one endpoint
(`handle(…, endpoint=ORCHESTRATE)`) and answers any other path with a 404; the local stack serves all
three on one port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

import flask

from appgen import auth, errors, jobs
from appgen.ids import parse_uuid
from appgen.logs import bind
from appgen.responses import error_response
from appgen.services import Services

log = logging.getLogger(__name__)

ORCHESTRATE = "/internal/orchestrate"
WORKER = "/internal/worker"
CLEANUP = "/internal/cleanup"


def handle(
    request: flask.Request, get_services: Callable[[], Services], endpoint: str | None = None
) -> flask.Response:
    """Answer one internal delivery; `endpoint` limits a single-purpose target to its own path."""
    try:
        services = get_services()
        _verify_caller(request, services)
        if request.method != "POST":
            raise errors.MethodNotAllowed()
        payload = request.get_json(silent=True) or {}
        execution = {
            "queue": request.headers.get("X-CloudTasks-QueueName"),
            "retry_count": request.headers.get("X-CloudTasks-TaskRetryCount"),
            "execution": request.headers.get("X-CloudTasks-TaskName"),
        }
        with bind(**execution):
            body = _dispatch(request.path, payload, services, endpoint)
        return flask.jsonify(body)
    except errors.AppgenError as exc:
        return error_response(exc)
    except Exception:
        log.exception("internal endpoint crashed", extra={"action": "internal.crash", "path": request.path})
        return error_response(errors.AppgenError())


def _verify_caller(request: flask.Request, services: Services) -> None:
    """Cloud mode (Cloud Tasks dispatch): a Google OIDC token of the tasks service account; otherwise the
    local dispatcher's signed token."""
    settings = services.settings
    if settings.dispatcher == "cloud-tasks":
        from appgen.cloud.oidc import iam_checked_token, verify_google_oidc

        allowed = [settings.tasks_service_account] if settings.tasks_service_account else []
        verify_google_oidc(
            iam_checked_token(request.headers),
            settings.tasks_audience or "",
            allowed,
            trust_iam=settings.trust_cloud_run_iam,
        )
    else:
        auth.verify_internal_token(request.headers.get("Authorization"), settings.internal_secret)


def _dispatch(path: str, payload: Any, services: Services, endpoint: str | None) -> dict[str, Any]:
    from appgen import worker
    from appgen.sweepers import sweep

    if endpoint is not None and path != endpoint:
        raise errors.NotFound(f"no internal endpoint {path}")
    if path == ORCHESTRATE:
        jobs.start(services, _id(payload, "jobId"))
        return {"outcome": "started"}
    if path == WORKER:
        return {"outcome": worker.run_task(_id(payload, "taskId"), services)}
    if path == CLEANUP:
        return sweep(services)
    raise errors.NotFound(f"no internal endpoint {path}")


def _id(payload: Any, key: str) -> UUID:
    parsed = parse_uuid(payload.get(key)) if isinstance(payload, dict) else None
    if parsed is None:
        raise errors.InvalidRequest(f"the task payload needs a UUID {key}")
    return parsed
