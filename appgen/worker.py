"""The worker's executor: claim -> run step -> record -> dispatch what the database says comes next.

This is the one place that decides between success, retry and failure of a step: a `StepFailed` carries
an error code, `fail_task` retries it with the policy's backoff when the error-code table marks it
transient, a stored spec the model cannot load fails the job at once (`spec_unreadable`), anything
unexpected is an internal error the owner sees as such (details stay in the service's own logs).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

from pydantic import ValidationError

from appgen.errors import AppgenError, DependencyUnavailable, StepFailed
from appgen.gateway import ClaimedTask, Dispatch
from appgen.logs import bind
from appgen.memory import PeakRss
from appgen.pipeline.context import StepContext
from appgen.pipeline.steps import STEPS
from appgen.policy import ErrorCode
from appgen.services import Services
from appgen.spec import GenerationSpec, field_path

log = logging.getLogger(__name__)


def run_task(task_id: UUID, services: Services) -> str:
    """Run one delivered task; returns what happened ("noop", "succeeded", "failed", "retrying")."""
    control_plane = services.control_plane
    task = control_plane.claim_task(task_id, lease_seconds=services.settings.task_lease_s)
    if task is None:
        log.info(
            "stale or duplicate delivery ignored", extra={"action": "task.noop", "task_id": str(task_id)}
        )
        return "noop"
    with bind(job_id=str(task.job_id), task_id=str(task.task_id), kind=task.kind, attempt=task.attempt):
        workdir = services.settings.work_dir / f"{task.task_id}-{task.attempt}"
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            outcome, next_steps = _execute(task, services, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        services.dispatcher.dispatch_all(next_steps)
        return outcome


def _execute(task: ClaimedTask, services: Services, workdir: Path) -> tuple[str, list[Dispatch]]:
    control_plane = services.control_plane
    try:
        spec = GenerationSpec.model_validate(task.generation_spec)
    except ValidationError as exc:
        return _spec_unreadable(task, services, exc)
    ctx = StepContext(task, spec, services, workdir)
    log.info("step started", extra={"action": "task.start"})
    try:
        ctx.check_stop()
        with _heartbeat(ctx), PeakRss() as memory:
            try:
                result = STEPS[task.kind](ctx)
            except DependencyUnavailable as exc:
                # Storage or the queue was away mid-step: the plan's 20/60/180 s backoff retries the step.
                raise StepFailed(
                    f"a service the {task.kind} step needs was unavailable: {exc.message}",
                    code=ErrorCode.DEPENDENCY_UNAVAILABLE,
                ) from exc
    except StepFailed as exc:
        ctx.log(
            exc.message if exc.code != "cancelled" else "stopped: the job was cancelled",
            "warning" if exc.transient or exc.code == ErrorCode.CANCELLED else "error",
        )
        next_steps = control_plane.fail_task(task.task_id, task.attempt, exc.error_code, exc.message)
        retrying = any(d.task_id == task.task_id for d in next_steps)
        log.warning("step failed: %s", exc.code, extra={"action": "task.fail", "transient": exc.transient})
        return ("retrying" if retrying else "failed"), next_steps
    except DependencyUnavailable:
        # The database itself is away (claiming, checking or recording): the delivery is answered 503;
        # when it cannot be redelivered in time the lease lapses and the sweeper sends the task again.
        raise
    except Exception:
        log.exception("step crashed", extra={"action": "task.crash"})
        ctx.log(f"internal error during the {task.kind} step", "error")
        message = f"An internal error stopped the {task.kind} step. It was logged for the operators."
        return "failed", control_plane.fail_task(task.task_id, task.attempt, ErrorCode.INTERNAL, message)
    # The worker's peak while the step ran (its process and every agent, npm and box it started; in the
    # local stack that includes concurrent steps), which appgen-report.json lists per step.
    result.result.setdefault("peakRssMiB", memory.peak_mib)
    log.info("step succeeded", extra={"action": "task.succeed", "peak_rss_mib": memory.peak_mib})
    next_steps = control_plane.finish_task(
        task.task_id, task.attempt, result.result, result.tokens_input, result.tokens_output
    )
    return "succeeded", next_steps


def _spec_unreadable(
    task: ClaimedTask, services: Services, exc: ValidationError
) -> tuple[str, list[Dispatch]]:
    """The database accepted a spec the model refuses (the two validators disagree, or a row was written by
    hand). Retrying cannot help and the owner did nothing wrong: the job fails now, refunded, and its
    running slot goes to the owner's next queued job instead of being held until the deadline."""
    errors = exc.errors(include_input=False)
    problems = "; ".join(f"{field_path(e['loc'])}: {e['msg']}" for e in errors[:3])
    more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
    message = f"The job's stored spec cannot be loaded ({problems}{more})."
    log.error("stored spec cannot be loaded: %s", problems, extra={"action": "task.spec_unreadable"})
    control_plane = services.control_plane
    control_plane.append_job_log(task.job_id, task.task_id, "error", task.stage, message)
    return "failed", control_plane.fail_task(task.task_id, task.attempt, ErrorCode.SPEC_UNREADABLE, message)


@contextmanager
def _heartbeat(ctx: StepContext) -> Iterator[None]:
    """Renews the task's lease while the step runs, so a lease lapses only when this worker is gone (the
    sweeper then sends the task again). A refused renewal means the task is no longer ours: stop."""
    task, control_plane = ctx.task, ctx.services.control_plane
    lease = ctx.services.settings.task_lease_s
    done = threading.Event()

    def beat() -> None:
        while not done.wait(lease / 4):
            try:
                if not control_plane.renew_task_lease(task.task_id, task.attempt, lease):
                    ctx.lose_task()
                    return
            except AppgenError as exc:  # the database is briefly away: the lease has slack for it
                log.warning("lease renewal failed: %s", exc.message, extra={"action": "task.heartbeat"})

    thread = threading.Thread(target=beat, name=f"heartbeat-{task.task_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
