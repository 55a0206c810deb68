"""`appgen deploy`: the whole Google Cloud (and Supabase) setup of appgen from an empty project, in one
idempotent command. See `plan.py` for what it creates and `apply.py` for how."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import click
import httpx

from appgen.deploy.apply import Report, apply, destroy
from appgen.deploy.plan import DEFAULT_MAX_WORKERS, Options, Plan, build_plan
from appgen.deploy.resources import GCLOUD, Scope
from appgen.deploy.runner import DeployError, Runner
from appgen.deploy.secret_manager import SecretsFilled
from appgen.settings import REPO_ROOT

_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_REGION = re.compile(r"[a-z]+-[a-z]+[0-9]+")
SMOKE_ATTEMPTS = 5
SMOKE_PAUSE_S = 6.0


@click.command()
@click.option("--project", required=True, help="Google Cloud project id (it must exist, with billing).")
@click.option("--region", required=True, help="Region of every resource, e.g. europe-west1.")
@click.option("--supabase-ref", help="Supabase project ref: link it, push the migrations, create the bucket.")
@click.option(
    "--max-workers",
    type=click.IntRange(3, 1000),
    default=DEFAULT_MAX_WORKERS,
    show_default=True,
    help="Instance cap of the worker service; the queues' dispatch caps add up to it.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the commands it would run, one per line; change nothing."
)
@click.option(
    "--destroy", "teardown", is_flag=True, help="Remove what the deploy created (APIs stay enabled)."
)
@click.option(
    "--smoke-token",
    envvar="APPGEN_TOKEN",
    help="A user's access token: the smoke check also lists that user's jobs [env APPGEN_TOKEN].",
)
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=REPO_ROOT,
    show_default="this checkout",
    help="The checkout the images are built from.",
)
def deploy(
    project: str,
    region: str,
    supabase_ref: str | None,
    max_workers: int,
    dry_run: bool,
    teardown: bool,
    smoke_token: str | None,
    source: Path,
) -> None:
    """Deploy appgen to Google Cloud Run + Cloud Tasks (and Supabase): create what is missing, update what
    differs, leave what matches. Needs `gcloud auth login` (and, with --supabase-ref, the Supabase CLI
    with SUPABASE_ACCESS_TOKEN and SUPABASE_DB_PASSWORD)."""
    if not _PROJECT.fullmatch(project):
        raise click.BadParameter("not a Google Cloud project id", param_hint="--project")
    if not _REGION.fullmatch(region):
        raise click.BadParameter("not a Google Cloud region (e.g. europe-west1)", param_hint="--region")
    if supabase_ref is not None and not teardown:
        if not re.fullmatch(r"[a-z]{20}", supabase_ref):
            raise click.BadParameter(
                "a Supabase project ref is 20 lowercase letters", param_hint="--supabase-ref"
            )
        missing = [n for n in ("SUPABASE_ACCESS_TOKEN", "SUPABASE_DB_PASSWORD") if not os.environ.get(n)]
        if missing and not dry_run:
            raise click.ClickException(f"--supabase-ref needs {' and '.join(missing)} in the environment")

    def say(line: str) -> None:
        click.echo(line, err=True)

    run = Runner(cwd=source.resolve(), dry_run=dry_run, echo=click.echo if dry_run else say)
    try:
        scope = _scope(run, project, region)
        plan = build_plan(Options(project, region, source.resolve(), supabase_ref, max_workers), scope)
        for note in plan.notes:
            say(f"note: {note}")
        if teardown:
            report = destroy(plan, scope, run, say)
            _summary(report, dry_run, say)
            say("APIs stay enabled; the Supabase project keeps its schema and bucket.")
            return
        report = apply(plan, scope, run, say)
    except DeployError as exc:
        raise click.ClickException(exc.message) from None
    _summary(report, dry_run, say)
    if report.empty_secrets:
        _ask_for_secrets(plan, scope, report, dry_run, say)
    if dry_run:
        return
    url = _api_url(run, plan, scope, fresh=report.changed)
    click.echo(f"API: {url}")
    smoke(url, smoke_token, say)


def _scope(run: Runner, project: str, region: str) -> Scope:
    described = run.read((GCLOUD, "projects", "describe", project))
    if not described:
        raise DeployError(
            f"project {project} was not found or you cannot read it: create it, link a billing account, "
            "and sign in with `gcloud auth login`"
        )
    return Scope(project, str(described["projectNumber"]), region)


def _summary(report: Report, dry_run: bool, say: Callable[[str], None]) -> None:
    if not report.changed:
        say(f"nothing to change: all {len(report.unchanged)} resources match" if report.unchanged else
            "nothing to remove")  # fmt: skip
        return
    counts = {"created": report.created, "updated": report.updated, "deleted": report.deleted}
    done = ", ".join(f"{len(labels)} {what}" for what, labels in counts.items() if labels)
    say(f"{'dry run, would be: ' if dry_run else ''}{done}; {len(report.unchanged)} unchanged")


def _ask_for_secrets(
    plan: Plan, scope: Scope, report: Report, dry_run: bool, say: Callable[[str], None]
) -> None:
    gate = next(r for r in plan.resources if isinstance(r, SecretsFilled))
    say("The services read these secrets at start; they have no value yet. Add each: type or paste the")
    say("value after running the line (it is read without echo, never reaching your shell history, a")
    say("process list or this tool):")
    for line in gate.instructions(scope, report.empty_secrets):
        say(f"  {line}")
    if not dry_run:
        raise click.ClickException("add the secret values above, then run the same `appgen deploy` again")


def _api_url(run: Runner, plan: Plan, scope: Scope, fresh: bool) -> str:
    listing = (GCLOUD, "run", "services", "list", f"--region={scope.region}", scope.p)
    if fresh:
        run.forget(listing)  # read again: the services may be new since the plan read them
    for service in run.read(listing) or []:
        if service["metadata"]["name"] == plan.api_service:
            return str(service["status"]["url"]).rstrip("/")
    return scope.service_url(plan.api_service)


def smoke(url: str, token: str | None, say: Callable[[str], None], pause_s: float = SMOKE_PAUSE_S) -> None:
    """GET /healthz (and, with a user's token, list that user's jobs) on the deployed API."""
    checks: list[tuple[str, str, dict[str, str]]] = [("GET /healthz", f"{url}/healthz", {})]
    if token:
        checks.append(
            ("GET /api/agentic/jobs", f"{url}/api/agentic/jobs?limit=1", {"Authorization": f"Bearer {token}"})
        )
    for name, target, headers in checks:
        status, detail = 0, ""
        for attempt in range(SMOKE_ATTEMPTS):  # a new revision can take a moment to answer
            try:
                response = httpx.get(target, headers=headers, timeout=30)
                status, detail = response.status_code, response.text[:200]
            except httpx.HTTPError as exc:
                status, detail = 0, str(exc)
            if status == 200 or attempt == SMOKE_ATTEMPTS - 1:
                break
            time.sleep(pause_s)
        if status != 200:
            raise click.ClickException(f"smoke check {name} failed: {status or 'no answer'} {detail}")
        say(f"smoke check: {name} -> 200")
    if not token:
        say("smoke check: the authenticated list call was skipped (pass --smoke-token or set APPGEN_TOKEN)")
