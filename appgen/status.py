"""The job state machine, mirrored from the SQL enum `app_generation_status` (the database enforces the
moves; a test keeps this list equal to the enum)."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"  # -> running (a slot of the owner's 2 is free), cancelled
    RUNNING = "running"  # -> fixing, completed, completed_with_warnings, failed, cancelled
    FIXING = "fixing"  # -> completed, completed_with_warnings, failed, cancelled
    COMPLETED = "completed"  # -> expired (retention)
    COMPLETED_WITH_WARNINGS = "completed_with_warnings"  # -> expired (retention)
    FAILED = "failed"  # terminal
    EXPIRED = "expired"  # terminal: artifact deleted by retention
    CANCELLED = "cancelled"  # terminal: stopped by its owner


# States a job leaves only through retention or never: a poller can stop here.
FINISHED = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.COMPLETED_WITH_WARNINGS,
        JobStatus.FAILED,
        JobStatus.EXPIRED,
        JobStatus.CANCELLED,
    }
)
SUCCEEDED = frozenset({JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS})
