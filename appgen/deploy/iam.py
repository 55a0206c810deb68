"""Identities and access: the service accounts the services run as, and IAM bindings: one role for one
member on one resource (the project, a service account, a secret, a bucket, a Cloud Run service, the
image repository or a queue), each added with `add-iam-policy-binding` so the deploy never overwrites a
binding someone else made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appgen.deploy.resources import GCLOUD, Resource, Scope, by_name
from appgen.deploy.runner import Command, Runner

# What each IAM target is called on the command line: gcloud <group...> <verb> <name> <flags...>.
_IAM_TARGETS: dict[str, tuple[tuple[str, ...], bool]] = {
    # kind: (command group, takes --region/--location)
    "project": (("projects",), False),
    "service-account": (("iam", "service-accounts"), False),
    "secret": (("secrets",), False),
    "bucket": (("storage", "buckets"), False),
    "service": (("run", "services"), True),
    "repository": (("artifacts", "repositories"), True),
    "queue": (("tasks", "queues"), True),
}


@dataclass(frozen=True)
class Binding(Resource):
    """One role for one member on one resource. Bindings are only ever added (and, on a destroy, removed
    from the project): the deploy never drops a binding someone else made."""

    kind: str  # a key of _IAM_TARGETS
    target: str  # project id, service account name, secret, bucket, service, repository or queue
    member: str  # "serviceAccount:<name>" (expanded to the email) or "allUsers"
    role: str

    @property
    def removable(self) -> bool:  # type: ignore[override]
        return self.kind == "project"  # the other targets go with their resource; the project stays

    @property
    def lane(self) -> str:  # type: ignore[override]
        return f"iam {self.kind} {self.target}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return () if self.kind == "project" else (f"{self.kind.replace('-', ' ')} {self.target}",)

    @property
    def label(self) -> str:
        return f"{self.role} for {self.member.split(':')[-1]} on {self.kind} {self.target}"

    def _name(self, scope: Scope) -> str:
        if self.kind == "service-account":
            return scope.sa_email(self.target)
        return f"gs://{self.target}" if self.kind == "bucket" else self.target

    def _member(self, scope: Scope) -> str:
        kind, _, name = self.member.partition(":")
        return f"serviceAccount:{scope.sa_email(name)}" if kind == "serviceAccount" else self.member

    def _command(self, scope: Scope, verb: str) -> list[str]:
        group, regional = _IAM_TARGETS[self.kind]
        where = [f"--{'region' if self.kind == 'service' else 'location'}={scope.region}"] if regional else []
        project = [] if self.kind == "project" else [scope.p]  # (the target is the project itself)
        return [GCLOUD, *group, verb, self._name(scope), *where, *project]

    def policy_read(self, scope: Scope) -> Command:
        return tuple(self._command(scope, "get-iam-policy"))

    def describe(self, scope: Scope, run: Runner) -> Any:
        policy = run.read(self.policy_read(scope))
        if policy is None:
            return None
        members = [m for b in policy.get("bindings", []) if b["role"] == self.role for m in b["members"]]
        return policy if self._member(scope) in members else None

    def _edit(self, scope: Scope, verb: str) -> Command:
        extra = ["--condition=None"] if self.kind == "project" else []
        return (*self._command(scope, verb), f"--member={self._member(scope)}", f"--role={self.role}",
                *extra, "--quiet")  # fmt: skip

    def create(self, scope: Scope) -> list[Command]:
        return [self._edit(scope, "add-iam-policy-binding")]

    def delete(self, scope: Scope) -> list[Command]:
        return [self._edit(scope, "remove-iam-policy-binding")]

    def after_change(self, scope: Scope, run: Runner) -> None:
        member, role = self._member(scope), self.role

        def add(policy: Any) -> Any:
            bindings = [b for b in (policy or {}).get("bindings", []) if b["role"] != role]
            members = [
                m for b in (policy or {}).get("bindings", []) if b["role"] == role for m in b["members"]
            ]
            return {**(policy or {}), "bindings": [*bindings, {"role": role, "members": [*members, member]}]}

        run.remember(self.policy_read(scope), add)


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
