"""The one loop over the plan: describe each resource, create what is missing, update what differs, skip
what matches; or, for `--destroy`, delete what exists, last stage first.

A stage's resources are described side by side, then changed side by side, one lane at a time where they
share state (the bindings of one IAM policy). A dry run prints the commands in the plan's order and runs
nothing. The `SecretsFilled` checkpoint stops a real run right after creating the secrets while one of
them has no value: the operator adds the values, then runs the same command again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from appgen.deploy.plan import Plan
from appgen.deploy.resources import Resource, Scope
from appgen.deploy.runner import Command, Runner
from appgen.deploy.secret_manager import SecretsFilled

WORKERS = 4  # gcloud processes at once


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    empty_secrets: list[str] = field(default_factory=list)
    stopped: bool = False  # at the secrets checkpoint

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


@dataclass
class _Step:
    resource: Resource
    commands: list[Command]
    line: str


def apply(plan: Plan, scope: Scope, run: Runner, say: Callable[[str], None]) -> Report:
    report = Report()
    absent: set[str] = set()  # labels this run creates: what lives in them is not read
    for stage in plan.stages:
        gates = [r for r in stage if isinstance(r, SecretsFilled)]
        resources = [r for r in stage if not isinstance(r, SecretsFilled)]
        steps = []
        for resource, current in zip(resources, _describe(resources, scope, run, absent), strict=True):
            if current is None:
                absent.add(resource.label)
                report.created.append(resource.label)
                steps.append(_Step(resource, resource.create(scope), f"+ {resource.label}"))
                continue
            commands = resource.update(scope, current)
            if commands:
                report.updated.append(resource.label)
                diff = ", ".join(resource.diff(scope, current))
                steps.append(_Step(resource, commands, f"~ {resource.label}: {diff}"))
            else:
                report.unchanged.append(resource.label)
                say(f"= {resource.label}")
        for gate in gates:
            report.empty_secrets += gate.describe(scope, run)
        if report.empty_secrets and not run.dry_run:
            report.stopped = True
            return report
        _execute(steps, scope, run, say)
    return report


def destroy(plan: Plan, scope: Scope, run: Runner, say: Callable[[str], None]) -> Report:
    report = Report()
    for stage in reversed(plan.stages):
        resources = [r for r in reversed(stage) if r.removable]
        steps = []
        for resource, exists in zip(resources, _exist(resources, scope, run), strict=True):
            if exists:
                report.deleted.append(resource.label)
                steps.append(_Step(resource, resource.delete(scope), f"- {resource.label}"))
        _execute(steps, scope, run, say, after_change=False)
    return report


def _describe(stage: Sequence[Resource], scope: Scope, run: Runner, absent: set[str]) -> list[Any]:
    def one(resource: Resource) -> Any:
        if any(label in absent for label in resource.depends_on):
            return None
        return resource.describe(scope, run)

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(one, stage))


def _exist(stage: Sequence[Resource], scope: Scope, run: Runner) -> list[bool]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda resource: resource.exists(scope, run), stage))


def _execute(
    steps: list[_Step], scope: Scope, run: Runner, say: Callable[[str], None], after_change: bool = True
) -> None:
    lanes: dict[str, list[_Step]] = {}
    for step in steps:
        lanes.setdefault(step.resource.lane or step.resource.label, []).append(step)

    def lane(chain: list[_Step]) -> None:
        for step in chain:
            say(step.line)
            for command in step.commands:
                run.change(command)
            if after_change:
                step.resource.after_change(scope, run)

    if run.dry_run:  # printed in the plan's order
        lane(steps)
        return
    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(lane, chain) for chain in lanes.values()]:
            future.result()
