"""The kinds of resource the deploy manages. Each is a frozen record of its settings plus four methods:

- `describe(scope, run)`: its current state read through the CLI, None when it does not exist;
- `create(scope)`: the commands that make it;
- `update(scope, current)`: the commands that bring an existing one to these settings ([] when it
  matches; `diff` says what differs);
- `delete(scope)`: the commands that remove it (`appgen deploy --destroy`, for the `removable` kinds).

Commands are argv tuples, printed as they run (and only printed in a dry run). `Scope` is what every
command needs: the project, its number (Cloud Run URLs are derived from it) and the region.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from appgen.deploy.runner import Command, Runner

GCLOUD = "gcloud"


@dataclass(frozen=True)
class Scope:
    project: str
    number: str
    region: str

    @property
    def p(self) -> str:
        return f"--project={self.project}"

    def sa_email(self, name: str) -> str:
        return f"{name}@{self.project}.iam.gserviceaccount.com"

    def service_url(self, name: str) -> str:
        """Cloud Run's deterministic URL, known before the service exists (so services can name each other)."""
        return f"https://{name}-{self.number}.{self.region}.run.app"

    @property
    def registry(self) -> str:
        return f"{self.region}-docker.pkg.dev/{self.project}"


class Resource(ABC):
    lane: str | None = None  # resources of one lane run one after another (shared policy, shared CLI state)
    # Whether `--destroy` removes it: APIs stay enabled, and what lives in a resource goes with it.
    removable: bool = False

    @property
    @abstractmethod
    def label(self) -> str: ...

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Labels of resources this one lives in: when one of them does not exist yet, neither does this
        one, and the loop does not read it."""
        return ()

    @abstractmethod
    def describe(self, scope: Scope, run: Runner) -> Any: ...

    @abstractmethod
    def create(self, scope: Scope) -> list[Command]: ...

    def diff(self, scope: Scope, current: Any) -> list[str]:
        return []

    def update(self, scope: Scope, current: Any) -> list[Command]:
        return self.create(scope) if self.diff(scope, current) else []

    def exists(self, scope: Scope, run: Runner) -> bool:
        return self.describe(scope, run) is not None

    def delete(self, scope: Scope) -> list[Command]:
        return []

    def after_change(self, scope: Scope, run: Runner) -> None:  # noqa: B027 (most kinds record nothing)
        """Record in the runner's cache what the change did, so later reads see it without a call."""


def by_name(items: Any, name: str, key: str = "name") -> Any:
    """The listed item whose `key` is `name` (or, for a `name` starting with "/", ends with it: APIs answer
    full resource names such as `projects/123/secrets/X`)."""
    for item in items or []:
        value = str(item.get(key, ""))
        if value == name or (name.startswith("/") and value.endswith(name)):
            return item
    return None


# -- APIs ------------------------------------------------------------------------------------------------
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


# -- Artifact Registry -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Repository(Resource):
    removable = True
    name: str

    @property
    def label(self) -> str:
        return f"repository {self.name}"

    def describe(self, scope: Scope, run: Runner) -> Any:
        return run.read(
            (
                GCLOUD,
                "artifacts",
                "repositories",
                "describe",
                self.name,
                f"--location={scope.region}",
                scope.p,
            )
        )

    def create(self, scope: Scope) -> list[Command]:
        return [
            (
                GCLOUD, "artifacts", "repositories", "create", self.name, "--repository-format=docker",
                f"--location={scope.region}", "--description=appgen images", scope.p, "--quiet",
            )
        ]  # fmt: skip

    def delete(self, scope: Scope) -> list[Command]:
        return [
            (GCLOUD, "artifacts", "repositories", "delete", self.name, f"--location={scope.region}", scope.p,
             "--quiet")
        ]  # fmt: skip


@dataclass(frozen=True)
class Image(Resource):
    """An image built by Cloud Build from the source checkout; its tag is a hash of what goes into it,
    so an unchanged image is never built twice."""

    name: str
    dockerfile: str
    tag: str
    repository: str
    builder_account: str  # the build's service account (name)
    staging_bucket: str

    @property
    def label(self) -> str:
        return f"image {self.name}:{self.tag}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"repository {self.repository}",)

    def uri(self, scope: Scope) -> str:
        return f"{scope.registry}/{self.repository}/{self.name}:{self.tag}"

    def _list(self, scope: Scope) -> Command:
        return (GCLOUD, "artifacts", "docker", "images", "list", f"{scope.registry}/{self.repository}",
                "--include-tags", scope.p)  # fmt: skip

    def describe(self, scope: Scope, run: Runner) -> Any:
        for image in run.read(self._list(scope)) or []:
            if image.get("package", "").endswith(f"/{self.name}") and self.tag in image.get("tags", []):
                return image
        return None

    def create(self, scope: Scope) -> list[Command]:
        return [
            (
                GCLOUD, "builds", "submit", "--config=appgen/deploy/cloudbuild.yaml",
                f"--substitutions=_DOCKERFILE={self.dockerfile},_IMAGE={self.uri(scope)}",
                f"--service-account=projects/{scope.project}/serviceAccounts/{scope.sa_email(self.builder_account)}",
                f"--gcs-source-staging-dir=gs://{self.staging_bucket}/source", "--ignore-file=.dockerignore",
                "--suppress-logs", f"--region={scope.region}", scope.p, "--quiet", ".",
            )
        ]  # fmt: skip


# -- identities ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceAccount(Resource):
    removable = True
    name: str
    title: str

    @property
    def label(self) -> str:
        return f"service account {self.name}"

    def _list(self, scope: Scope) -> Command:
        return (GCLOUD, "iam", "service-accounts", "list", scope.p)

    def describe(self, scope: Scope, run: Runner) -> Any:
        return by_name(run.read(self._list(scope)), scope.sa_email(self.name), key="email")

    def diff(self, scope: Scope, current: Any) -> list[str]:
        return [] if current.get("displayName") == self.title else ["display name"]

    def create(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "iam", "service-accounts", "create", self.name, f"--display-name={self.title}",
                 scope.p, "--quiet")]  # fmt: skip

    def update(self, scope: Scope, current: Any) -> list[Command]:
        if not self.diff(scope, current):
            return []
        return [(GCLOUD, "iam", "service-accounts", "update", scope.sa_email(self.name),
                 f"--display-name={self.title}", scope.p, "--quiet")]  # fmt: skip

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "iam", "service-accounts", "delete", scope.sa_email(self.name), scope.p, "--quiet")]


# -- secrets ---------------------------------------------------------------------------------------------
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


# -- storage ---------------------------------------------------------------------------------------------
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
