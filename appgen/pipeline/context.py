"""What a pipeline step gets to work with: its claimed task, the job's spec, the stores, the agent runner,
a private workspace directory, and ways to log, warn and notice a cancel."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appgen.dispatch import DISPATCH_DEADLINE_SECONDS
from appgen.errors import StepFailed
from appgen.gateway import ClaimedTask
from appgen.pipeline import snapshots
from appgen.policy import POLICY, ErrorCode
from appgen.redact import redact
from appgen.services import Services
from appgen.spec import GenerationSpec
from appgen.storage import SCRATCH_BUCKET

CANCEL_POLL_SECONDS = 2.0
# A step is one queue delivery, which Cloud Tasks abandons (and sends again) at its dispatch deadline. The
# step's agents and commands share this window; the rest of the deadline is kept for restoring and saving
# snapshots and recording the result.
STEP_WINDOW_SECONDS = DISPATCH_DEADLINE_SECONDS - 5 * 60


@dataclass
class StepOutcome:
    result: dict[str, Any] = field(default_factory=dict)
    tokens_input: int = 0
    tokens_output: int = 0


@dataclass
class StepContext:
    task: ClaimedTask
    spec: GenerationSpec
    services: Services
    workdir: Path  # private to this delivery; removed afterwards
    _started: float = field(default_factory=time.monotonic)
    _last_poll: float = 0.0
    _active: bool = True

    @property
    def stage(self) -> str:
        return self.task.stage

    # -- reporting -----------------------------------------------------------------------------------
    def log(self, message: str, level: str = "info") -> None:
        # Redacted here too: the database's own redaction knows patterns, not this worker's exact secrets.
        self.services.control_plane.append_job_log(
            self.task.job_id, self.task.task_id, level, self.stage, redact(message)
        )

    def warn(self, code: str, message: str) -> None:
        self.services.control_plane.add_job_warning(self.task.job_id, code, message)
        self.log(message, "warning")

    # -- cancel and time -----------------------------------------------------------------------------
    def should_stop(self) -> bool:
        """True once the job was cancelled or ended elsewhere; polls the database at most every 2 s."""
        now = time.monotonic()
        if self._active and now - self._last_poll >= CANCEL_POLL_SECONDS:
            self._last_poll = now
            self._active = self.services.control_plane.job_is_active(self.task.job_id)
        return not self._active

    def lose_task(self) -> None:
        """The task is no longer this worker's (its lease went to another attempt, or the job ended)."""
        self._active = False

    def check_stop(self) -> None:
        if self.should_stop():
            raise StepFailed("the job was cancelled", code=ErrorCode.CANCELLED)

    def remaining_seconds(self) -> float:
        if self.task.deadline_at is None:
            return float("inf")
        return (self.task.deadline_at - datetime.now(UTC)).total_seconds()

    def budget(self, step_limit: float) -> float:
        """A command's or agent's timeout: its own limit, what is left of the job's time, or what is left
        of this delivery's window, whichever is smallest."""
        remaining = self.remaining_seconds()
        if remaining <= 0:
            raise StepFailed(
                f"the job reached its {POLICY.job_time_limit_text} limit", code=ErrorCode.TIMEOUT
            )
        window = STEP_WINDOW_SECONDS - (time.monotonic() - self._started)
        if window <= 0:
            raise StepFailed(
                f"the step used its {STEP_WINDOW_SECONDS // 60}-minute window (a queue delivery lasts at "
                f"most {DISPATCH_DEADLINE_SECONDS // 60} minutes)",
                code=ErrorCode.COMMAND_TIMEOUT,
            )
        return min(step_limit, remaining, window)

    # -- scratch storage -----------------------------------------------------------------------------
    def scratch_key(self, name: str) -> str:
        return snapshots.scratch_key(self.task.job_id, name)

    def save_snapshot(self, root: Path, name: str, files: list[str] | None = None) -> None:
        archive = snapshots.pack(root, self.workdir / "out" / name, files)
        self.services.scratch.upload(SCRATCH_BUCKET, self.scratch_key(name), archive)

    def restore_snapshot(
        self, name: str, root: Path, allow: Callable[[str], bool] | None = None
    ) -> list[str]:
        archive = self.workdir / "in" / name
        self.services.scratch.download(SCRATCH_BUCKET, self.scratch_key(name), archive)
        return snapshots.unpack(archive, root, allow)
