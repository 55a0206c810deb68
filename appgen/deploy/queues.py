"""What calls the services: the Cloud Tasks queues (retry settings and a dispatch cap each) and the Cloud
Scheduler job that runs the cleanup sweep with an OIDC token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appgen.deploy.resources import GCLOUD, Resource, Scope, by_name
from appgen.deploy.runner import Command, Runner


@dataclass(frozen=True)
class Queue(Resource):
    removable = True
    name: str
    max_attempts: int
    min_backoff_s: int
    max_dispatches: int

    @property
    def label(self) -> str:
        return f"queue {self.name}"

    def describe(self, scope: Scope, run: Runner) -> Any:
        queues = run.read((GCLOUD, "tasks", "queues", "list", f"--location={scope.region}", scope.p))
        return by_name(queues, f"/queues/{self.name}")

    def diff(self, scope: Scope, current: Any) -> list[str]:
        retry, rates = current.get("retryConfig", {}), current.get("rateLimits", {})
        wanted = {
            "max attempts": (retry.get("maxAttempts"), self.max_attempts),
            "min backoff": (retry.get("minBackoff"), f"{self.min_backoff_s}s"),
            "max concurrent dispatches": (rates.get("maxConcurrentDispatches"), self.max_dispatches),
        }
        return [f"{what} {have} -> {want}" for what, (have, want) in wanted.items() if have != want]

    def _flags(self, scope: Scope) -> list[str]:
        return [f"--location={scope.region}", f"--max-attempts={self.max_attempts}",
                f"--min-backoff={self.min_backoff_s}s", f"--max-concurrent-dispatches={self.max_dispatches}",
                scope.p, "--quiet"]  # fmt: skip

    def create(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "tasks", "queues", "create", self.name, *self._flags(scope))]

    def update(self, scope: Scope, current: Any) -> list[Command]:
        if not self.diff(scope, current):
            return []
        return [(GCLOUD, "tasks", "queues", "update", self.name, *self._flags(scope))]

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "tasks", "queues", "delete", self.name, f"--location={scope.region}", scope.p,
                 "--quiet")]  # fmt: skip


@dataclass(frozen=True)
class SchedulerJob(Resource):
    """An HTTP job POSTing to a Cloud Run service with an OIDC token of `caller` for `audience`."""

    removable = True
    name: str
    schedule: str
    service: str
    path: str
    caller: str  # service account name
    audience: str
    deadline_s: int

    @property
    def label(self) -> str:
        return f"scheduler job {self.name}"

    def describe(self, scope: Scope, run: Runner) -> Any:
        jobs = run.read((GCLOUD, "scheduler", "jobs", "list", f"--location={scope.region}", scope.p))
        return by_name(jobs, f"/jobs/{self.name}")

    def diff(self, scope: Scope, current: Any) -> list[str]:
        target = current.get("httpTarget", {})
        oidc = target.get("oidcToken", {})
        wanted = {
            "schedule": (current.get("schedule"), self.schedule),
            "time zone": (current.get("timeZone"), "Etc/UTC"),
            "uri": (target.get("uri"), scope.service_url(self.service) + self.path),
            "method": (target.get("httpMethod"), "POST"),
            "caller": (oidc.get("serviceAccountEmail"), scope.sa_email(self.caller)),
            "audience": (oidc.get("audience"), self.audience),
            "deadline": (current.get("attemptDeadline"), f"{self.deadline_s}s"),
        }
        return [f"{what} {have} -> {want}" for what, (have, want) in wanted.items() if have != want]

    def _command(self, scope: Scope, verb: str) -> Command:
        return (GCLOUD, "scheduler", "jobs", verb, "http", self.name, f"--location={scope.region}",
                f"--schedule={self.schedule}", "--time-zone=Etc/UTC",
                f"--uri={scope.service_url(self.service)}{self.path}", "--http-method=POST",
                f"--oidc-service-account-email={scope.sa_email(self.caller)}",
                f"--oidc-token-audience={self.audience}", f"--attempt-deadline={self.deadline_s}s",
                scope.p, "--quiet")  # fmt: skip

    def create(self, scope: Scope) -> list[Command]:
        return [self._command(scope, "create")]

    def update(self, scope: Scope, current: Any) -> list[Command]:
        return [self._command(scope, "update")] if self.diff(scope, current) else []

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "scheduler", "jobs", "delete", self.name, f"--location={scope.region}", scope.p,
                 "--quiet")]  # fmt: skip
