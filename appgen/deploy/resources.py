"""What every kind of resource the deploy manages is: a frozen record of its settings plus four methods:

- `describe(scope, run)`: its current state read through the CLI, None when it does not exist;
- `create(scope)`: the commands that make it;
- `update(scope, current)`: the commands that bring an existing one to these settings ([] when it
  matches; `diff` says what differs);
- `delete(scope)`: the commands that remove it (`appgen deploy --destroy`, for the `removable` kinds).

Commands are argv tuples, printed as they run (and only printed in a dry run). `Scope` is what every
command needs: the project, its number (Cloud Run URLs are derived from it) and the region.

The kinds live with the product they manage: `apis.py`, `images.py` (repository and images), `iam.py`
(service accounts and bindings), `secret_manager.py`, `buckets.py`, `queues.py`, `network.py`,
`cloudrun.py`, `supabase.py`.
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
