"""The Google Cloud APIs the deployment uses, enabled on the project (`--destroy` leaves them on)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appgen.deploy.resources import GCLOUD, Resource, Scope
from appgen.deploy.runner import Command, Runner


@dataclass(frozen=True)
class Apis(Resource):
    services: tuple[str, ...]
    label = "apis"

    def _list(self, scope: Scope) -> Command:
        return (GCLOUD, "services", "list", "--enabled", scope.p)

    def describe(self, scope: Scope, run: Runner) -> set[str]:
        return {s["config"]["name"] for s in run.read(self._list(scope)) or []}

    def diff(self, scope: Scope, current: Any) -> list[str]:
        return [f"enable {s}" for s in self.services if s not in current]

    def create(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "services", "enable", *self.services, scope.p, "--quiet")]

    def update(self, scope: Scope, current: Any) -> list[Command]:
        missing = [s for s in self.services if s not in current]
        return [(GCLOUD, "services", "enable", *missing, scope.p, "--quiet")] if missing else []
