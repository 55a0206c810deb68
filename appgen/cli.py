"""The `appgen` command: the local stack, operator tasks, and a client of the public API."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx

from appgen import auth
from appgen.client import ApiClient, ApiError
from appgen.deploy.command import deploy
from appgen.errors import AppgenError
from appgen.ids import parse_uuid
from appgen.settings import LOCAL_JWT_SECRET, load_settings
from appgen.status import FINISHED, SUCCEEDED

# How long `appgen dev` may take to stop once told to (the database gets at most half of it).
STOP_GRACE_SECONDS = 40


@click.group()
def main() -> None:
    """appgen: a finalized frontend design in, a buildable Next.js app out."""


# -- local stack and operator tasks --------------------------------------------------------------------
@main.command()
@click.option("--port", default=8080, show_default=True, help="Port of the API (0 picks a free one).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Database, objects and secrets [.appgen].")
def dev(port: int, data_dir: Path | None) -> None:
    """Run the whole backend locally until Ctrl-C."""
    from appgen.localstack.stack import LocalStack
    from appgen.logs import configure

    configure()
    env = dict(os.environ)
    if data_dir is not None:
        env["APPGEN_DATA_DIR"] = str(data_dir)
    stack = LocalStack(_settings(env), port=port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stack.start()
    except AppgenError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(stack.ready_line(), err=False)
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        click.echo("appgen dev: stopping", err=True)
        # A stop that hangs (a stuck thread, a database that will not shut down) prints every thread's
        # stack to the log and exits 1, instead of leaving the operator with a process that ignores them.
        faulthandler.dump_traceback_later(STOP_GRACE_SECONDS, exit=True)
        stack.stop()


@main.command()
@click.option("--user", "user_id", required=True, help="The user id (UUID) the token is for.")
@click.option("--ttl", default=3600, show_default=True, help="Seconds the token stays valid.")
def token(user_id: str, ttl: int) -> None:
    """Print a Supabase-style access token signed with SUPABASE_JWT_SECRET (default: the Supabase CLI's
    public local secret, which only `appgen dev` accepts)."""
    if parse_uuid(user_id) is None:
        raise click.BadParameter("must be a UUID", param_hint="--user")
    click.echo(auth.mint_user_token(user_id, _settings().jwt_secret or LOCAL_JWT_SECRET, ttl))


@main.command()
def migrate() -> None:
    """Apply supabase/migrations to APPGEN_DATABASE_URL."""
    from appgen.migrate import migrate as apply

    settings = _settings()
    if not settings.database_url:
        raise click.ClickException("APPGEN_DATABASE_URL is not set")
    try:
        applied = apply(settings.database_url, settings.migrations_dir)
    except AppgenError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


@main.command()
def cleanup() -> None:
    """Run the cleanup sweeps once (Cloud Scheduler runs the `cleanup` function in the cloud)."""
    from appgen.services import services
    from appgen.sweepers import sweep

    try:
        click.echo(json.dumps(sweep(services())))
    except AppgenError as exc:
        raise click.ClickException(exc.message) from None


main.add_command(deploy)


# -- API client ----------------------------------------------------------------------------------------
_api = click.option(
    "--api",
    envvar="APPGEN_API_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Base URL of the API [env APPGEN_API_URL].",
)
_token = click.option(
    "--token",
    "token_",
    envvar="APPGEN_TOKEN",
    required=True,
    help="Supabase access token [env APPGEN_TOKEN].",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@main.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="Follow the job until it ends.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="With --wait: download the ZIP here.")
@click.option("--idempotency-key", help="Same key and spec -> the same job.")
@_api
@_token
@_json
def submit(
    spec: Path,
    wait: bool,
    output: Path | None,
    idempotency_key: str | None,
    api: str,
    token_: str,
    as_json: bool,
) -> None:
    """Submit a generation spec (JSON file)."""
    with _client(api, token_, as_json) as client:
        try:
            body = json.loads(spec.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"not a JSON file: {exc}", param_hint="SPEC") from None
        job_id = client.submit(body, idempotency_key)
        if not wait:
            _emit({"jobId": job_id}, as_json, f"submitted job {job_id}")
            return
        if not as_json:
            click.echo(f"submitted job {job_id}")
        job = _follow(client, job_id, quiet=as_json)
        if job["status"] in SUCCEEDED and output is not None:
            client.download(job_id, output)
            job["downloadedTo"] = str(output.resolve())
        _emit(
            job, as_json, _job_line(job) + (f"\nZIP: {job['downloadedTo']}" if "downloadedTo" in job else "")
        )
        if job["status"] not in SUCCEEDED:
            sys.exit(1)


@main.command()
@click.argument("job_id")
@_api
@_token
@_json
def status(job_id: str, api: str, token_: str, as_json: bool) -> None:
    """Show a job."""
    with _client(api, token_, as_json) as client:
        job = client.status(job_id)
        _emit(job, as_json, _job_line(job))


@main.command(name="list")
@click.option("--project", help="Only jobs of this project id.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100), help="How many jobs.")
@_api
@_token
@_json
def list_(project: str | None, limit: int, api: str, token_: str, as_json: bool) -> None:
    """List your jobs, newest first."""
    with _client(api, token_, as_json) as client:
        jobs = client.list_jobs(project, limit)
        _emit({"jobs": jobs}, as_json, "\n".join(_job_line(j) for j in jobs) or "no jobs")


@main.command()
@click.argument("job_id")
@click.option("--follow", is_flag=True, help="Keep printing new lines until the job ends.")
@_api
@_token
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line for scripts.")
def logs(job_id: str, follow: bool, api: str, token_: str, as_json: bool) -> None:
    """Print a job's logs."""
    with _client(api, token_, as_json) as client:
        after = 0
        while True:
            page = client.logs(job_id, after)
            for entry in page["logs"]:
                if as_json:
                    click.echo(json.dumps(entry))
                else:
                    click.echo(f"{entry['at']} {entry['level']:<7} {entry['stage']:<9} {entry['message']}")
                after = entry["id"]
            if page["nextCursor"]:
                continue
            if not follow or client.status(job_id)["status"] in FINISHED:
                return
            time.sleep(2)


@main.command()
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Where to save the ZIP.")
@_api
@_token
@_json
def download(job_id: str, output: Path, api: str, token_: str, as_json: bool) -> None:
    """Download a job's ZIP through a fresh signed URL."""
    with _client(api, token_, as_json) as client:
        client.download(job_id, output)
        path = output.resolve()
        _emit({"jobId": job_id, "path": str(path), "sizeBytes": path.stat().st_size}, as_json, str(path))


@main.command()
@click.argument("job_id")
@_api
@_token
@_json
def cancel(job_id: str, api: str, token_: str, as_json: bool) -> None:
    """Cancel a queued or running job."""
    with _client(api, token_, as_json) as client:
        job = client.cancel(job_id)
        _emit(job, as_json, _job_line(job))


# -- helpers -------------------------------------------------------------------------------------------
@contextmanager
def _client(api: str, token: str, as_json: bool = False) -> Iterator[ApiClient]:
    """An API client for one command; API errors become a one-line message (or, with --json, the API's
    error object) on stderr and exit status 1. Network failures say which URL could not be reached."""
    client = ApiClient(api, token)
    try:
        yield client
    except ApiError as exc:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message, "status": exc.status}
        if exc.details:
            error["details"] = exc.details
        if as_json:
            raise _JsonError(json.dumps({"error": error})) from None
        details = f" {json.dumps(exc.details)}" if exc.details else ""
        raise click.ClickException(f"{exc.code}: {exc.message}{details}") from None
    except httpx.TransportError as exc:
        message = f"cannot reach the API at {client.base_url}: {exc}"
        if as_json:
            raise _JsonError(json.dumps({"error": {"code": "unreachable", "message": message}})) from None
        raise click.ClickException(message) from None
    finally:
        client.close()


class _JsonError(click.ClickException):
    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


def _settings(env: dict[str, str] | None = None) -> Any:
    try:
        return load_settings(env)
    except AppgenError as exc:
        raise click.ClickException(exc.message) from None


def _follow(client: ApiClient, job_id: str, quiet: bool) -> dict[str, Any]:
    last = ""
    while True:
        job = client.status(job_id)
        line = _job_line(job)
        if line != last and not quiet:
            click.echo(line, err=True)
            last = line
        if job["status"] in FINISHED:
            return job
        time.sleep(2)


def _job_line(job: dict[str, Any]) -> str:
    progress = job["progress"]
    width = 24
    filled = round(width * progress["percent"] / 100)
    bar = "#" * filled + "-" * (width - filled)
    line = (
        f"{job['jobId']} [{bar}] {progress['percent']:>3}% {job['status']} ({job['stage']}; pages "
        f"{progress['pagesDone']}/{progress['pagesTotal']}, fix round {progress['fixRound']}/"
        f"{progress['maxFixRounds']})"
    )
    if job.get("error"):
        line += f"\n  error {job['error']['code']}: {job['error']['message']}"
    for warning in job.get("warnings", []):
        line += f"\n  warning {warning['code']}: {warning['message']}"
    return line


def _emit(body: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(body, indent=2) if as_json else text)
