"""Secret Manager: the secrets the services read, created empty, and the checkpoint that waits until the
operator has given each one a value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appgen.deploy.resources import GCLOUD, Resource, Scope, by_name
from appgen.deploy.runner import Command, Runner


@dataclass(frozen=True)
class Secret(Resource):
    """A Secret Manager secret, created empty: its value is added by the operator and never passes through
    the deploy (see `SecretsFilled`)."""

    removable = True
    name: str

    @property
    def label(self) -> str:
        return f"secret {self.name}"

    def describe(self, scope: Scope, run: Runner) -> Any:
        return by_name(run.read((GCLOUD, "secrets", "list", scope.p)), f"/secrets/{self.name}")

    def create(self, scope: Scope) -> list[Command]:
        return [
            (GCLOUD, "secrets", "create", self.name, "--replication-policy=automatic", scope.p, "--quiet")
        ]

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "secrets", "delete", self.name, scope.p, "--quiet")]


@dataclass(frozen=True)
class SecretsFilled(Resource):
    """A checkpoint, not a resource: the services read `secret:latest` when they start, so each secret
    needs a version first. Describes as the secrets still empty; a secret that a deployed service already
    reads is not asked about again."""

    names: tuple[str, ...]
    services: tuple[str, ...]  # the Cloud Run services that read them
    label = "secret values"

    def describe(self, scope: Scope, run: Runner) -> list[str]:
        deployed = run.read((GCLOUD, "run", "services", "list", f"--region={scope.region}", scope.p)) or []
        in_use = {
            env["valueFrom"]["secretKeyRef"]["name"]
            for service in deployed
            if service["metadata"]["name"] in self.services
            for container in service["spec"]["template"]["spec"].get("containers", [])
            for env in container.get("env", [])
            if "valueFrom" in env
        }
        empty = []
        for name in self.names:
            if name in in_use:
                continue
            if Secret(name).describe(scope, run) is None:  # absent when this run read the list: empty
                empty.append(name)
                continue
            versions = run.read(
                (GCLOUD, "secrets", "versions", "list", name, "--filter=state=ENABLED", "--limit=1", scope.p)
            )
            if not versions:
                empty.append(name)
        return empty

    def create(self, scope: Scope) -> list[Command]:
        return []

    def instructions(self, scope: Scope, empty: list[str]) -> list[str]:
        return [
            f'read -rs VALUE && printf %s "$VALUE" | gcloud secrets versions add {name} --data-file=- '
            f"--project={scope.project}"
            for name in empty
        ]
