"""The private network the worker reaches the builder through.

The builder service has internal ingress: Cloud Run lets a request in only when it comes from a VPC
network of the project. So both services get Direct VPC egress into one subnet of appgen's own network:

- the subnet has Private Google Access and the network no Cloud NAT, so what enters it reaches Google's
  APIs and Cloud Run, and nothing else on the internet (the builder sends all its traffic there);
- a private DNS zone for `run.app` answers the private.googleapis.com addresses (199.36.153.8/30), which
  Cloud Run routes into the VPC even with `--vpc-egress=private-ranges-only`: the worker's calls to the
  builder (and to any `*.run.app`) go through the subnet and arrive as internal, while its other traffic
  (Supabase, the Gemini API, the npm registry) leaves directly, without a NAT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appgen.deploy.resources import GCLOUD, Resource, Scope
from appgen.deploy.runner import Command, Runner

PRIVATE_GOOGLE_ACCESS = ("199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11")


@dataclass(frozen=True)
class Network(Resource):
    """A custom-mode VPC network (no subnet of its own in every region, no firewall rule)."""

    removable = True
    name: str

    @property
    def label(self) -> str:
        return f"network {self.name}"

    def describe(self, scope: Scope, run: Runner) -> Any:
        return run.read((GCLOUD, "compute", "networks", "describe", self.name, scope.p))

    def create(self, scope: Scope) -> list[Command]:
        return [
            (GCLOUD, "compute", "networks", "create", self.name, "--subnet-mode=custom", scope.p, "--quiet")
        ]

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "compute", "networks", "delete", self.name, scope.p, "--quiet")]


@dataclass(frozen=True)
class Subnet(Resource):
    """The region's subnet of the services' Direct VPC egress, with Private Google Access. Cloud Run takes
    two addresses per instance during a deploy, so the range holds twice the instances of the worker and
    the builder together."""

    removable = True
    name: str
    network: str
    ip_range: str

    @property
    def label(self) -> str:
        return f"subnet {self.name}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"network {self.network}",)

    def describe(self, scope: Scope, run: Runner) -> Any:
        return run.read((GCLOUD, "compute", "networks", "subnets", "describe", self.name,
                         f"--region={scope.region}", scope.p))  # fmt: skip

    def diff(self, scope: Scope, current: Any) -> list[str]:
        changes = []
        if current.get("privateIpGoogleAccess") is not True:
            changes.append("private Google access")
        if current.get("ipCidrRange") != self.ip_range:  # not changed here: a range is not moved in place
            changes.append(f"range {current.get('ipCidrRange')} (expected {self.ip_range}; left as it is)")
        return changes

    def create(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "compute", "networks", "subnets", "create", self.name, f"--network={self.network}",
                 f"--region={scope.region}", f"--range={self.ip_range}", "--enable-private-ip-google-access",
                 scope.p, "--quiet")]  # fmt: skip

    def update(self, scope: Scope, current: Any) -> list[Command]:
        if current.get("privateIpGoogleAccess") is True:
            return []
        return [(GCLOUD, "compute", "networks", "subnets", "update", self.name, f"--region={scope.region}",
                 "--enable-private-ip-google-access", scope.p, "--quiet")]  # fmt: skip

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "compute", "networks", "subnets", "delete", self.name, f"--region={scope.region}",
                 scope.p, "--quiet")]  # fmt: skip


@dataclass(frozen=True)
class PrivateZone(Resource):
    """A Cloud DNS zone seen only from `network`."""

    removable = True
    name: str
    dns_name: str
    network: str
    description: str

    @property
    def label(self) -> str:
        return f"dns zone {self.name}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"network {self.network}",)

    def describe(self, scope: Scope, run: Runner) -> Any:
        return run.read((GCLOUD, "dns", "managed-zones", "describe", self.name, scope.p))

    def diff(self, scope: Scope, current: Any) -> list[str]:
        networks = [
            n.get("networkUrl", "") for n in current.get("privateVisibilityConfig", {}).get("networks", [])
        ]
        changes = []
        if current.get("dnsName") != self.dns_name or current.get("visibility") != "private":
            changes.append(f"{current.get('visibility')} zone for {current.get('dnsName')} (left as it is)")
        if not any(url.endswith(f"/networks/{self.network}") for url in networks):
            changes.append(f"not visible from network {self.network}")
        return changes

    def create(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "dns", "managed-zones", "create", self.name, f"--dns-name={self.dns_name}",
                 "--visibility=private", f"--networks={self.network}", f"--description={self.description}",
                 scope.p, "--quiet")]  # fmt: skip

    def update(self, scope: Scope, current: Any) -> list[Command]:
        if not self.diff(scope, current) or current.get("dnsName") != self.dns_name:
            return []  # another zone under this name: reported by `diff`, never rewritten
        return [(GCLOUD, "dns", "managed-zones", "update", self.name, f"--networks={self.network}", scope.p,
                 "--quiet")]  # fmt: skip

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "dns", "managed-zones", "delete", self.name, scope.p, "--quiet")]


@dataclass(frozen=True)
class ARecord(Resource):
    """An A record set of a zone (removed before its zone, which refuses deletion while it has one)."""

    removable = True
    zone: str
    name: str
    addresses: tuple[str, ...]
    ttl: int = 300

    @property
    def label(self) -> str:
        return f"dns record {self.name} in {self.zone}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"dns zone {self.zone}",)

    def _args(self) -> tuple[str, ...]:
        return (self.name, f"--zone={self.zone}", "--type=A")

    def describe(self, scope: Scope, run: Runner) -> Any:
        return run.read((GCLOUD, "dns", "record-sets", "describe", *self._args(), scope.p))

    def diff(self, scope: Scope, current: Any) -> list[str]:
        changes = []
        if sorted(current.get("rrdatas", [])) != sorted(self.addresses):
            changes.append("addresses")
        if current.get("ttl") != self.ttl:
            changes.append("ttl")
        return changes

    def _set(self, verb: str, scope: Scope) -> Command:
        return (GCLOUD, "dns", "record-sets", verb, *self._args(), f"--ttl={self.ttl}",
                f"--rrdatas={','.join(self.addresses)}", scope.p, "--quiet")  # fmt: skip

    def create(self, scope: Scope) -> list[Command]:
        return [self._set("create", scope)]

    def update(self, scope: Scope, current: Any) -> list[Command]:
        return [self._set("update", scope)] if self.diff(scope, current) else []

    def delete(self, scope: Scope) -> list[Command]:
        return [(GCLOUD, "dns", "record-sets", "delete", *self._args(), scope.p, "--quiet")]
