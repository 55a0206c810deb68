"""Cloud Run services: the settings appgen deploys them with, and the same settings read back from the
service Cloud Run reports, so a service that already matches is left alone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from appgen.deploy.images import Image
from appgen.deploy.resources import GCLOUD, Resource, Scope
from appgen.deploy.runner import Command, Runner


@dataclass(frozen=True)
class Service(Resource):
    """A Cloud Run service. `gcloud run deploy` with every setting spelled out (env and secrets replaced
    whole), so the same command creates it or brings it back to these settings."""

    removable = True
    name: str
    image: Image
    account: str  # runtime service account (name)
    public: bool
    ingress: str  # all | internal
    cpu: str
    memory: str
    concurrency: int
    timeout_s: int
    max_instances: int
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # Secret Manager names, exposed as env variables of the same name
    audiences: tuple[str, ...] = ()
    workspace: str | None = None  # size limit of an in-memory volume at /workspace
    gen2: bool = False
    # Direct VPC egress: (network, subnet, private-ranges-only | all-traffic), or None for none.
    vpc: tuple[str, str, str] | None = None

    @property
    def label(self) -> str:
        return f"service {self.name}"

    def _list(self, scope: Scope) -> Command:
        return (GCLOUD, "run", "services", "list", f"--region={scope.region}", scope.p)

    def exists(self, scope: Scope, run: Runner) -> bool:
        return any(s["metadata"]["name"] == self.name for s in run.read(self._list(scope)) or [])

    def describe(self, scope: Scope, run: Runner) -> Any:
        services = [s for s in run.read(self._list(scope)) or [] if s["metadata"]["name"] == self.name]
        if not services:
            return None
        service = services[0]
        policy = run.read((GCLOUD, "run", "services", "get-iam-policy", self.name, f"--region={scope.region}",
                           scope.p))  # fmt: skip
        public = any(
            "allUsers" in b["members"]
            for b in (policy or {}).get("bindings", [])
            if b["role"] == "roles/run.invoker"
        )
        return {"service": service, "public": public}

    def settings(self, scope: Scope) -> dict[str, Any]:
        """What `diff` compares, in the shape Cloud Run's API reports it."""
        return {
            "image": self.image.uri(scope),
            "service account": scope.sa_email(self.account),
            "public": self.public,
            "ingress": self.ingress,
            "cpu": self.cpu,
            "memory": self.memory,
            "concurrency": self.concurrency,
            "timeout": self.timeout_s,
            "max instances": str(self.max_instances),
            "env": dict(self.env),
            "secrets": {name: f"{name}:latest" for name in self.secrets},
            "audiences": list(self.audiences),
            "volumes": [("workspace", "Memory", self.workspace)] if self.workspace else [],
            "mounts": [("workspace", "/workspace")] if self.workspace else [],
            "execution environment": "gen2" if self.gen2 else None,
            "vpc egress": self.vpc,
        }

    def diff(self, scope: Scope, current: Any) -> list[str]:
        have = observed_settings(current["service"], current["public"])
        want = self.settings(scope)
        return [key for key in want if have.get(key) != want[key]]

    def create(self, scope: Scope) -> list[Command]:
        env = [f"{k}={v}" for k, v in self.env.items()]
        # gcloud splits --set-env-vars on commas; a value holding one needs another delimiter.
        env_flag = ("^@^" + "@".join(env)) if any("," in e for e in env) else ",".join(env)
        secrets = ",".join(f"{name}={name}:latest" for name in self.secrets)
        argv = [GCLOUD, "run", "deploy", self.name, f"--image={self.image.uri(scope)}",
                f"--region={scope.region}", f"--service-account={scope.sa_email(self.account)}",
                f"--ingress={self.ingress}",
                "--allow-unauthenticated" if self.public else "--no-allow-unauthenticated",
                f"--cpu={self.cpu}", f"--memory={self.memory}", f"--concurrency={self.concurrency}",
                f"--timeout={self.timeout_s}", f"--max-instances={self.max_instances}",
                f"--set-env-vars={env_flag}" if env else "--clear-env-vars",
                f"--set-secrets={secrets}" if secrets else "--clear-secrets"]  # fmt: skip
        argv.append(f"--set-custom-audiences={','.join(self.audiences)}" if self.audiences
                    else "--clear-custom-audiences")  # fmt: skip
        argv.append("--clear-volumes")
        argv.append("--clear-volume-mounts")
        if self.workspace:
            argv += [f"--add-volume=name=workspace,type=in-memory,size-limit={self.workspace}",
                     "--add-volume-mount=volume=workspace,mount-path=/workspace"]  # fmt: skip
        if self.gen2:
            argv.append("--execution-environment=gen2")
        if self.vpc:
            network, subnet, egress = self.vpc
            argv += [f"--network={network}", f"--subnet={subnet}", f"--vpc-egress={egress}"]
        else:
            argv.append("--clear-network")
        return [(*argv, scope.p, "--quiet")]

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "run", "services", "delete", self.name, f"--region={scope.region}", scope.p,
                 "--quiet")]  # fmt: skip


def observed_settings(service: Mapping[str, Any], public: bool) -> dict[str, Any]:
    """A Cloud Run (Knative v1) service object in the shape of `Service.settings`."""
    meta = service.get("metadata", {})
    template = service.get("spec", {}).get("template", {})
    spec = template.get("spec", {})
    container = (spec.get("containers") or [{}])[0]
    limits = container.get("resources", {}).get("limits", {})
    env, secrets = {}, {}
    for var in container.get("env", []):
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            secrets[var["name"]] = f"{ref['name']}:{ref.get('key', 'latest')}"
        else:
            env[var["name"]] = var.get("value", "")
    annotations = meta.get("annotations", {})
    template_annotations = template.get("metadata", {}).get("annotations", {})
    return {
        "image": container.get("image"),
        "service account": spec.get("serviceAccountName"),
        "public": public,
        "ingress": annotations.get("run.googleapis.com/ingress"),
        "cpu": limits.get("cpu"),
        "memory": limits.get("memory"),
        "concurrency": spec.get("containerConcurrency"),
        "timeout": spec.get("timeoutSeconds"),
        "max instances": template_annotations.get("autoscaling.knative.dev/maxScale"),
        "env": env,
        "secrets": secrets,
        "audiences": json.loads(annotations.get("run.googleapis.com/custom-audiences", "[]")),
        "volumes": [
            (v["name"], v.get("emptyDir", {}).get("medium"), v.get("emptyDir", {}).get("sizeLimit"))
            for v in spec.get("volumes", [])
        ],
        "mounts": [(m["name"], m["mountPath"]) for m in container.get("volumeMounts", [])],
        "execution environment": template_annotations.get("run.googleapis.com/execution-environment"),
        "vpc egress": _vpc(template_annotations),
    }


def _vpc(annotations: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(network, subnet, egress) of a revision template's Direct VPC egress annotations."""
    interfaces = json.loads(annotations.get("run.googleapis.com/network-interfaces", "[]"))
    if not interfaces:
        return None
    first = interfaces[0]
    egress = annotations.get("run.googleapis.com/vpc-access-egress", "private-ranges-only")
    return (first.get("network", ""), first.get("subnetwork", ""), egress)
