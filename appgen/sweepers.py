"""Time-based policies, run by Cloud Scheduler through the `cleanup` function (or `appgen cleanup`):
each sweep is idempotent, bounded in work per run, and reports what it did."""

from __future__ import annotations

import logging
from typing import Any

from appgen.errors import AppgenError
from appgen.pipeline import snapshots
from appgen.pipeline.snapshots import scratch_key
from appgen.services import Services
from appgen.storage import SCRATCH_BUCKET

log = logging.getLogger(__name__)


def delete_expired_artifacts(services: Services, limit: int | None = None) -> dict[str, int]:
    """Objects of artifacts that retention marked for deletion: removed through the storage API, then
    confirmed in the database (rows are never deleted to delete objects)."""
    deleted = failed = 0
    for row in services.control_plane.list_artifacts_to_delete(limit):
        try:
            services.artifacts.delete(row["bucket"], [row["path"]])
        except AppgenError as exc:
            failed += 1
            log.warning(
                "could not delete %s: %s", row["path"], exc.message, extra={"action": "sweep.retention"}
            )
            continue
        services.control_plane.confirm_artifact_deleted(row["artifact_id"])
        deleted += 1
    return {"deleted": deleted, "failed": failed}


def fail_overdue_jobs(services: Services, limit: int | None = None) -> dict[str, int]:
    """Jobs past their deadline fail with `timeout` (a hung worker never reports); the running
    slots they free go to their owners' next queued jobs."""
    dispatches = services.control_plane.fail_overdue_jobs(limit)
    services.dispatcher.dispatch_all(dispatches)
    return {"started": len(dispatches)}


def redispatch_owed_tasks(services: Services, limit: int | None = None) -> dict[str, int]:
    """Steps the queue lost: tasks whose worker died (lease lapsed), dispatched tasks nobody claimed, and
    queued jobs whose start message was lost. The database picks them; this sends them again."""
    # A dispatched task gets one lease's time to be claimed before it counts as lost.
    dispatches = services.control_plane.redispatch_owed_tasks(limit, services.settings.task_lease_s)
    services.dispatcher.dispatch_all(dispatches)
    starts = sum(1 for d in dispatches if d.kind == "start")
    return {"tasks": len(dispatches) - starts, "starts": starts}


def clear_scratch(services: Services, limit: int | None = None) -> dict[str, int]:
    """Snapshots of ended jobs (completed, failed, cancelled, expired): deleted through the storage API,
    then confirmed. Their names follow from the job's pages and fix rounds, so nothing is listed."""
    cleared = failed = 0
    for row in services.control_plane.list_scratch_to_clear(limit):
        names = snapshots.job_snapshots(row["page_ids"], row["fix_round"])
        try:
            services.scratch.delete(SCRATCH_BUCKET, [scratch_key(row["job_id"], name) for name in names])
        except AppgenError as exc:
            failed += 1
            log.warning(
                "could not clear scratch of %s: %s",
                row["job_id"],
                exc.message,
                extra={"action": "sweep.scratch"},
            )
            continue
        services.control_plane.confirm_scratch_cleared(row["job_id"])
        cleared += 1
    return {"cleared": cleared, "failed": failed}


def sweep(services: Services) -> dict[str, Any]:
    report = {
        "deadlines": fail_overdue_jobs(services),
        "redelivered": redispatch_owed_tasks(services),
        "retention": delete_expired_artifacts(services),
        "scratch": clear_scratch(services),
    }
    log.info("sweep finished", extra={"action": "sweep", "report": report})
    return report
