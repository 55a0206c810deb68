"""GCS buckets: private, uniform access, no soft delete, optionally emptied of old objects by a lifecycle
rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appgen.deploy.resources import GCLOUD, Resource, Scope, by_name
from appgen.deploy.runner import Command, Runner


@dataclass(frozen=True)
class Bucket(Resource):
    """A private GCS bucket (uniform access, public access prevented, no soft delete), optionally with a
    lifecycle rule deleting objects after `delete_after_days`."""

    removable = True
    name: str
    delete_after_days: int | None = None

    @property
    def label(self) -> str:
        return f"bucket {self.name}"

    def describe(self, scope: Scope, run: Runner) -> Any:
        return by_name(run.read((GCLOUD, "storage", "buckets", "list", scope.p)), self.name)

    def _lifecycle(self) -> list[dict[str, Any]]:
        if self.delete_after_days is None:
            return []
        return [{"action": {"type": "Delete"}, "condition": {"age": self.delete_after_days}}]

    def _lifecycle_flags(self) -> list[str]:
        if self.delete_after_days is None:
            return []
        return [f"--lifecycle-file=appgen/deploy/lifecycle-{self.delete_after_days}d.json"]

    def diff(self, scope: Scope, current: Any) -> list[str]:
        changes = []
        if (current.get("lifecycle_config") or {}).get("rule", []) != self._lifecycle():
            changes.append("lifecycle")
        if current.get("uniform_bucket_level_access") is not True:
            changes.append("uniform access")
        if current.get("public_access_prevention") != "enforced":
            changes.append("public access prevention")
        return changes

    def create(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "storage", "buckets", "create", f"gs://{self.name}", f"--location={scope.region}",
                 "--uniform-bucket-level-access", "--public-access-prevention", "--soft-delete-duration=0",
                 *self._lifecycle_flags(), scope.p, "--quiet")]  # fmt: skip

    def update(self, scope: Scope, current: Any) -> list[Command]:
        if not self.diff(scope, current):
            return []
        lifecycle = self._lifecycle_flags() or ["--clear-lifecycle"]
        return [(GCLOUD, "storage", "buckets", "update", f"gs://{self.name}", "--uniform-bucket-level-access",
                 "--public-access-prevention", *lifecycle, scope.p, "--quiet")]  # fmt: skip

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "storage", "rm", "--recursive", f"gs://{self.name}", scope.p, "--quiet")]
