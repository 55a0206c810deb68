"""Typed calls of the control-plane RPCs (`ControlPlane`) and the values they return: dispatch
instructions, claimed tasks, artifact locations. One method per RPC; no decisions here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from appgen import errors
from appgen.gateway.base import Caller, Row, RpcTransport


@dataclass(frozen=True)
class Dispatch:
    """An instruction from the database: enqueue this step (`start` = orchestrator starts the job)."""

    kind: str
    job_id: UUID
    task_id: UUID | None
    delay_seconds: int = 0
    redelivery: int = 0  # > 0 when the sweeper sends a step again (the queue needs a fresh task name)


@dataclass(frozen=True)
class ClaimedTask:
    task_id: UUID
    job_id: UUID
    owner_id: UUID
    project_id: UUID
    kind: str
    key: str
    attempt: int
    stage: str  # what the job is doing while this step runs (its log lines carry it)
    fix_round: int
    max_fix_rounds: int
    deadline_at: datetime | None
    generation_spec: dict[str, Any]
    inputs: dict[str, Any]


@dataclass(frozen=True)
class ArtifactLocation:
    bucket: str
    path: str
    size_bytes: int
    checksum: str


class ControlPlane:
    """Typed calls of the control-plane RPCs. One method per RPC; no decisions here."""

    def __init__(self, transport: RpcTransport):
        self.transport = transport

    def _call(self, function: str, caller: Caller, **args: Any) -> list[Row]:
        return self.transport.call(function, args, caller)

    def _dispatches(self, function: str, caller: Caller, **args: Any) -> list[Dispatch]:
        return [Dispatch(**row) for row in self._call(function, caller, **args)]

    # -- users ----------------------------------------------------------------------------------------
    def submit_job(
        self, caller: Caller, spec: dict[str, Any], idempotency_key: str | None
    ) -> tuple[UUID, bool]:
        row = self._call("submit_job", caller, p_spec=spec, p_idempotency_key=idempotency_key)[0]
        return row["job_id"], row["created"]

    def get_job(self, caller: Caller, job_id: UUID) -> Row:
        rows = self._call("get_job", caller, p_job_id=job_id)
        if not rows:
            raise errors.NotFound()
        return rows[0]

    def get_job_version(self, caller: Caller, job_id: UUID) -> int:
        """The job's version, which rises with every change of what get_job returns."""
        rows = self._call("get_job_version", caller, p_job_id=job_id)
        if not rows:
            raise errors.NotFound()
        return int(rows[0]["version"])

    def list_jobs(self, caller: Caller, project_id: UUID | None, limit: int) -> list[Row]:
        return self._call("list_jobs", caller, p_project_id=project_id, p_limit=limit)

    def list_job_logs(self, caller: Caller, job_id: UUID, after: int, limit: int) -> list[Row]:
        return self._call("list_job_logs", caller, p_job_id=job_id, p_after=after, p_limit=limit)

    def request_download(self, caller: Caller, job_id: UUID) -> ArtifactLocation:
        return ArtifactLocation(**self._call("request_download", caller, p_job_id=job_id)[0])

    def cancel_job(self, caller: Caller, job_id: UUID) -> list[Dispatch]:
        return self._dispatches("cancel_job", caller, p_job_id=job_id)

    # -- orchestrator and workers (service role) ------------------------------------------------------
    def start_job(self, job_id: UUID) -> list[Dispatch]:
        return self._dispatches("start_job", Caller.service(), p_job_id=job_id)

    def claim_task(self, task_id: UUID, lease_seconds: int) -> ClaimedTask | None:
        rows = self._call("claim_task", Caller.service(), p_task_id=task_id, p_lease_seconds=lease_seconds)
        return ClaimedTask(**rows[0]) if rows else None

    def finish_task(
        self,
        task_id: UUID,
        attempt: int,
        result: dict[str, Any],
        tokens_input: int = 0,
        tokens_output: int = 0,
    ) -> list[Dispatch]:
        return self._dispatches(
            "finish_task",
            Caller.service(),
            p_task_id=task_id,
            p_attempt=attempt,
            p_result=result,
            p_tokens_input=tokens_input,
            p_tokens_output=tokens_output,
        )

    def fail_task(self, task_id: UUID, attempt: int, code: str, message: str) -> list[Dispatch]:
        return self._dispatches(
            "fail_task",
            Caller.service(),
            p_task_id=task_id,
            p_attempt=attempt,
            p_code=code,
            p_message=message,
        )

    def renew_task_lease(self, task_id: UUID, attempt: int, lease_seconds: int) -> bool:
        rows = self._call(
            "renew_task_lease",
            Caller.service(),
            p_task_id=task_id,
            p_attempt=attempt,
            p_lease_seconds=lease_seconds,
        )
        return bool(rows[0]["renew_task_lease"])

    def redispatch_owed_tasks(
        self, limit: int | None = None, grace_seconds: int | None = None
    ) -> list[Dispatch]:
        return self._dispatches(
            "redispatch_owed_tasks", Caller.service(), p_limit=limit, p_grace_seconds=grace_seconds
        )

    def job_is_active(self, job_id: UUID) -> bool:
        return bool(self._call("job_is_active", Caller.service(), p_job_id=job_id)[0]["job_is_active"])

    def list_job_tasks(self, job_id: UUID) -> list[Row]:
        """Every step of a job with its stored result, in pipeline order (for the build report)."""
        return self._call("list_job_tasks", Caller.service(), p_job_id=job_id)

    def add_job_warning(self, job_id: UUID, code: str, message: str) -> None:
        self._call("add_job_warning", Caller.service(), p_job_id=job_id, p_code=code, p_message=message)

    def append_job_log(
        self, job_id: UUID, task_id: UUID | None, level: str, stage: str, message: str
    ) -> None:
        self._call(
            "append_job_log",
            Caller.service(),
            p_job_id=job_id,
            p_task_id=task_id,
            p_level=level,
            p_stage=stage,
            p_message=message,
        )

    def record_artifact(self, job_id: UUID, bucket: str, path: str, size_bytes: int, checksum: str) -> None:
        self._call(
            "record_artifact",
            Caller.service(),
            p_job_id=job_id,
            p_bucket=bucket,
            p_path=path,
            p_size_bytes=size_bytes,
            p_checksum=checksum,
        )

    def fail_overdue_jobs(self, limit: int | None = None) -> list[Dispatch]:
        return self._dispatches("fail_overdue_jobs", Caller.service(), p_limit=limit)

    def list_scratch_to_clear(self, limit: int | None = None, settle_seconds: int | None = None) -> list[Row]:
        return self._call(
            "list_scratch_to_clear", Caller.service(), p_limit=limit, p_settle_seconds=settle_seconds
        )

    def confirm_scratch_cleared(self, job_id: UUID) -> None:
        self._call("confirm_scratch_cleared", Caller.service(), p_job_id=job_id)

    def list_artifacts_to_delete(self, limit: int | None = None) -> list[Row]:
        return self._call("list_artifacts_to_delete", Caller.service(), p_limit=limit)

    def confirm_artifact_deleted(self, artifact_id: UUID) -> None:
        self._call("confirm_artifact_deleted", Caller.service(), p_artifact_id=artifact_id)
