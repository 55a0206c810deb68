"""`appgen deploy` end to end with the real Google Cloud CLI, offline: gcloud parses every flag and sends its
real REST requests to `tests.fixtures.gcloud_recorder` (a stateful stand-in of the Google APIs), and these
tests assert the recorded request bodies and the state they leave.

Every gcloud command of the deploy runs for real against the recorder, `gcloud builds submit` included
(its source tarball is uploaded to the recorder's storage API). Only the Supabase CLI is a recording fake
on PATH (`tests/fixtures/bin/supabase`): the real one downloads a binary at install and talks to
Supabase's platform.

One deployment story runs once per module (the calls are real processes, about a second each): a dry run
of an empty project, a first run that stops for the secret values, the values added, a second run that
finishes with a smoke check, a third run that changes nothing, a smaller worker cap applied to what it
changes, and a destroy. Each test asserts one
aspect of it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import resource
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from appgen import cli
from appgen.deploy.apply import Report, apply
from appgen.deploy.cloudrun import Service
from appgen.deploy.plan import Options, build_plan
from appgen.deploy.queues import Queue
from appgen.deploy.resources import Scope
from appgen.deploy.runner import Runner
from appgen.deploy.secret_manager import SecretsFilled
from appgen.settings import REPO_ROOT
from tests.fixtures.gcloud_recorder import PROJECT_NUMBER, SMOKE_TOKEN, Recorder, Request

PROJECT = "demo-proj"
REGION = "europe-west1"
REF = "abcdefghijklmnopqrst"
FAKE_BIN = REPO_ROOT / "tests" / "fixtures" / "bin"
GOLDEN_PLAN = REPO_ROOT / "tests" / "fixtures" / "deploy-dry-run.txt"
SUPABASE_TOKEN = "sbp_fake_access_token_never_printed"
DB_PASSWORD = "fake-db-password-never-printed"
SA = {
    name: f"serviceAccount:{name}@{PROJECT}.iam.gserviceaccount.com"
    for name in (
        "appgen-api-sa",
        "agent-orchestrator-sa",
        "agent-worker-sa",
        "appgen-tasks-invoker",
        "appgen-builder-sa",
        "appgen-build-sa",
    )
}
API_SA, ORCH_SA, WORKER_SA, INVOKER_SA, BUILDER_SA, BUILD_SA = SA.values()
AUDIENCE = f"appgen-tasks-{PROJECT}"
BUILDER_URL = f"https://appgen-builder-{PROJECT_NUMBER}.{REGION}.run.app"


@dataclass
class Phase:
    result: Result
    requests: list[Request]

    @property
    def mutations(self) -> list[Request]:
        return [r for r in self.requests if r.is_mutation]


@dataclass
class Story:
    recorder: Recorder
    source: Path
    phases: dict[str, Phase] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)  # the recorder after the deploy, before destroy
    policies: dict[str, Any] = field(default_factory=dict)
    supabase_calls: list[dict[str, Any]] = field(default_factory=list)
    update: tuple[Report, list[str], list[Request]] | None = None

    def bodies(self, method: str, api: str, path: str) -> list[Any]:
        """Bodies of the requests to paths matching `path` (a regular expression, matched whole)."""
        return [
            r.body
            for phase in self.phases.values()
            for r in phase.requests
            if r.method == method and r.api == api and re.fullmatch(path, r.path)
        ]


def _copy_source(target: Path) -> Path:
    """The checkout the images are built from: this repository without what never goes into an image."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "node_modules", ".appgen", "__pycache__", "*cache", "*.egg-info", "tests", "bench"
    )
    shutil.copytree(REPO_ROOT, target, ignore=ignore)
    return target


@pytest.fixture(scope="module")
def story() -> Iterator[Story]:
    assert shutil.which("gcloud"), "the Google Cloud CLI (gcloud) is required by these tests"
    root = Path(tempfile.mkdtemp(prefix="appgen-deploy-"))
    recorder = Recorder().start()
    story = Story(recorder, _copy_source(root / "source"))
    state_dir = root / "supabase-state"
    state_dir.mkdir()
    (root / "gcloud").mkdir()
    env = {
        **recorder.env(root / "gcloud"),
        "PATH": f"{FAKE_BIN}:{os.environ['PATH']}",
        "FAKE_SUPABASE_STATE": str(state_dir),
        "SUPABASE_ACCESS_TOKEN": SUPABASE_TOKEN,
        "SUPABASE_DB_PASSWORD": DB_PASSWORD,
        "APPGEN_TOKEN": None,
    }

    def deploy(name: str, *args: str) -> None:
        first = len(recorder.requests)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        base = ["deploy", f"--project={PROJECT}", f"--region={REGION}", f"--source={story.source}"]
        result = CliRunner().invoke(cli.main, [*base, *args], env=env)
        story.phases[name] = Phase(result, recorder.requests[first:])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"{name}: {len(recorder.requests) - first} requests, {spent:.0f} CPU-s")

    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        # A dry run of an empty project, artifacts on GCS (no --supabase-ref).
        deploy("dry run", "--dry-run")
        # The real runs keep artifacts in Supabase Storage.
        deploy("first run", f"--supabase-ref={REF}")
        for key in [
            k for k in recorder.resources if re.fullmatch(r"secretmanager/v1/projects/[^/]+/secrets/\w+", k)
        ]:
            # What the operator does between the runs (`gcloud secrets versions add`), not the deploy.
            recorder.resources[f"{key}/versions/1"] = {"name": f"{key}/versions/1", "state": "ENABLED"}
        deploy("second run", f"--supabase-ref={REF}", f"--smoke-token={SMOKE_TOKEN}")
        story.state = copy.deepcopy(recorder.resources)
        story.policies = copy.deepcopy(recorder.policies)
        deploy("third run", f"--supabase-ref={REF}")
        update(story, root, env)
        deploy("destroy", f"--supabase-ref={REF}", "--destroy")
        story.supabase_calls = [
            json.loads(line) for line in (state_dir / "calls.jsonl").read_text().splitlines()
        ]
        assert recorder.errors == []
        spent = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(
            f"deploy story: {len(recorder.requests)} requests, {spent.ru_utime + spent.ru_stime - cpu.ru_utime - cpu.ru_stime:.0f} CPU-s in gcloud"
        )
        yield story
    finally:
        recorder.stop()
        shutil.rmtree(root, ignore_errors=True)


def update(story: Story, root: Path, env: dict[str, Any]) -> None:
    """A smaller worker cap, through the deploy's own loop but only over the stages it can change (the
    queues and the services): the whole plan's reads were just proven by the third run, and every gcloud
    call costs about a CPU-second."""
    recorder = story.recorder
    first = len(recorder.requests)
    scope = Scope(PROJECT, PROJECT_NUMBER, REGION)
    plan = build_plan(Options(PROJECT, REGION, story.source, REF, max_workers=12), scope)
    plan.stages = [
        [r for r in stage if isinstance(r, Queue | Service | SecretsFilled)] for stage in plan.stages
    ]
    lines: list[str] = []
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if v is not None})
    try:
        run = Runner(cwd=story.source, dry_run=False, echo=lines.append)
        report = apply(plan, scope, run, lines.append)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    story.update = (report, lines, recorder.requests[first:])


def _ok(phase: Phase) -> Phase:
    assert phase.result.exit_code == 0, phase.result.output
    return phase


# -- the plan --------------------------------------------------------------------------------------------
def test_dry_run_prints_the_whole_plan_one_command_a_line_and_changes_nothing(story: Story) -> None:
    phase = _ok(story.phases["dry run"])
    printed = re.sub(r"(/(?:worker|functions|builder)):[0-9a-f]{16}", r"\1:TAG", phase.result.stdout)
    if os.environ.get("UPDATE_GOLDEN"):  # after a deliberate change of the plan: review the diff
        GOLDEN_PLAN.write_text(printed)
    assert printed.splitlines() == GOLDEN_PLAN.read_text().splitlines(), (
        "the plan changed: rerun with UPDATE_GOLDEN=1 and review tests/fixtures/deploy-dry-run.txt's diff"
    )
    assert phase.mutations == []
    assert all(r.method == "GET" or r.path.endswith(":getIamPolicy") for r in phase.requests)
    assert "does not exist yet" not in phase.result.stderr  # the builder is part of the plan


def test_first_run_creates_what_is_missing_and_stops_for_the_secret_values(story: Story) -> None:
    phase = story.phases["first run"]
    assert phase.result.exit_code == 1
    for secret in (
        "APPGEN_DATABASE_URL",
        "APPGEN_DATABASE_LISTEN_URL",
        "SUPABASE_JWT_SECRET",
        "GEMINI_API_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
    ):
        assert (
            f"gcloud secrets versions add {secret} --data-file=- --project={PROJECT}" in phase.result.stderr
        )
        created = [
            r for r in phase.mutations if r.path.endswith("/secrets") and r.query["secretId"] == [secret]
        ]
        assert len(created) == 1 and created[0].body["replication"] == {"automatic": {}}
    assert "add the secret values above, then run the same `appgen deploy` again" in phase.result.stderr
    assert not [r for r in phase.mutations if r.api in ("run", "cloudscheduler")], (
        "no service before its secrets"
    )


# -- the services ----------------------------------------------------------------------------------------
def _service(story: Story, name: str) -> dict[str, Any]:
    (created,) = [
        b
        for b in story.bodies("POST", "run", f".*/namespaces/{PROJECT}/services")
        if b["metadata"]["name"] == name
    ]
    return created  # type: ignore[no-any-return]


def _env(container: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    env = container.get("env", [])
    plain = {e["name"]: e["value"] for e in env if "value" in e}
    secret = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in env if "valueFrom" in e}
    return plain, secret


def test_worker_service_is_private_with_the_plans_size_and_an_in_memory_workspace(story: Story) -> None:
    worker = _service(story, "agent-worker")
    template, spec = worker["spec"]["template"], worker["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert worker["metadata"]["annotations"]["run.googleapis.com/ingress"] == "internal"
    assert json.loads(worker["metadata"]["annotations"]["run.googleapis.com/custom-audiences"]) == [AUDIENCE]
    assert spec["containerConcurrency"] == 1 and spec["timeoutSeconds"] == 3600
    assert container["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/maxScale"] == "30"
    assert spec["serviceAccountName"] == WORKER_SA.split(":")[1]
    assert spec["volumes"] == [{"name": "workspace", "emptyDir": {"medium": "Memory", "sizeLimit": "4Gi"}}]
    assert container["volumeMounts"] == [{"name": "workspace", "mountPath": "/workspace"}]
    assert container["image"].startswith(f"{REGION}-docker.pkg.dev/{PROJECT}/appgen/worker:")
    plain, secret = _env(container)
    assert secret == {n: n for n in ("APPGEN_DATABASE_URL", "GEMINI_API_KEY", "SUPABASE_SERVICE_ROLE_KEY")}
    assert plain["APPGEN_DISPATCHER"] == "cloud-tasks" and plain["APPGEN_ARTIFACT_STORE"] == "supabase"
    assert plain["APPGEN_WORKER_URL"] == f"https://agent-worker-{PROJECT_NUMBER}.{REGION}.run.app"
    assert plain["SUPABASE_URL"] == f"https://{REF}.supabase.co"
    # It builds nothing itself: workspaces go to the builder service, through the VPC (internal ingress).
    assert plain["APPGEN_BUILDER"] == "remote" and plain["APPGEN_BUILDER_URL"] == BUILDER_URL
    # Private behind Cloud Run IAM, which may pass the tasks' ID token on without its signature.
    assert plain["APPGEN_TRUST_CLOUD_RUN_IAM"] == "1"
    assert template["metadata"]["annotations"]["run.googleapis.com/execution-environment"] == "gen2"
    assert _vpc(template) == ([{"network": "appgen", "subnetwork": "appgen-run"}], "private-ranges-only")
    # No one may call it but the tasks' service account (and so no allUsers binding ever was set).
    assert _members(story, "agent-worker") == {"roles/run.invoker": {INVOKER_SA}}


def _vpc(template: dict[str, Any]) -> tuple[Any, str | None]:
    annotations = template["metadata"]["annotations"]
    interfaces = json.loads(annotations.get("run.googleapis.com/network-interfaces", "null"))
    return interfaces, annotations.get("run.googleapis.com/vpc-access-egress")


def test_builder_service_runs_one_build_at_a_time_boxed_without_secrets_called_by_the_worker_only(
    story: Story,
) -> None:
    builder = _service(story, "appgen-builder")
    template, spec = builder["spec"]["template"], builder["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert builder["metadata"]["annotations"]["run.googleapis.com/ingress"] == "internal"
    assert spec["containerConcurrency"] == 1 and spec["timeoutSeconds"] == 1800
    assert spec["serviceAccountName"] == BUILDER_SA.split(":")[1]
    assert container["image"].startswith(f"{REGION}-docker.pkg.dev/{PROJECT}/appgen/builder:")
    assert template["metadata"]["annotations"]["run.googleapis.com/execution-environment"] == "gen2"
    assert spec["volumes"] == [{"name": "workspace", "emptyDir": {"medium": "Memory", "sizeLimit": "4Gi"}}]
    assert container["volumeMounts"] == [{"name": "workspace", "mountPath": "/workspace"}]
    # Who may call it, and nothing else: no secret, no database, no bucket, no queue.
    assert _env(container) == (
        {
            "APPGEN_BUILDER_AUDIENCE": BUILDER_URL,
            "APPGEN_BUILDER_CALLER": WORKER_SA.split(":")[1],
            "APPGEN_TRUST_CLOUD_RUN_IAM": "1",
        },
        {},
    )
    # All its traffic into the subnet without NAT: Google's APIs, nothing else.
    assert _vpc(template) == ([{"network": "appgen", "subnetwork": "appgen-run"}], "all-traffic")
    assert _members(story, "appgen-builder") == {"roles/run.invoker": {WORKER_SA}}
    assert "run.googleapis.com/custom-audiences" not in builder["metadata"]["annotations"]


def test_the_network_routes_run_app_through_private_google_access_without_nat(story: Story) -> None:
    (network,) = story.bodies("POST", "compute", f"compute/v1/projects/{PROJECT}/global/networks")
    assert network["name"] == "appgen" and network["autoCreateSubnetworks"] is False
    (subnet,) = story.bodies("POST", "compute", f"compute/v1/projects/{PROJECT}/regions/{REGION}/subnetworks")
    assert subnet["name"] == "appgen-run" and subnet["privateIpGoogleAccess"] is True
    assert subnet["network"].endswith(f"projects/{PROJECT}/global/networks/appgen")
    assert subnet["ipCidrRange"] == "10.8.0.0/22"
    (zone,) = story.bodies("POST", "dns", f"dns/v1/projects/{PROJECT}/managedZones")
    assert (zone["name"], zone["dnsName"], zone["visibility"]) == ("appgen-run-app", "run.app.", "private")
    (visible,) = zone["privateVisibilityConfig"]["networks"]
    assert visible["networkUrl"].endswith(f"projects/{PROJECT}/global/networks/appgen")
    (record,) = story.bodies("POST", "dns", f"dns/v1/projects/{PROJECT}/managedZones/appgen-run-app/rrsets")
    assert (record["name"], record["type"], record["ttl"]) == ("*.run.app.", "A", 300)
    assert record["rrdatas"] == ["199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11"]
    # No router, so no Cloud NAT: nothing in the subnet reaches the internet but through Google.
    assert not [r for phase in story.phases.values() for r in phase.requests if "/routers" in r.path]


def test_each_service_runs_as_its_own_account_with_only_the_secrets_it_reads(story: Story) -> None:
    expected = {
        # service: (account, ingress, FUNCTION_TARGET, secrets)
        "appgen-api": (API_SA, "all", "api", {"APPGEN_DATABASE_URL", "APPGEN_DATABASE_LISTEN_URL",
                                              "SUPABASE_JWT_SECRET", "SUPABASE_SERVICE_ROLE_KEY"}),
        "agent-orchestrator": (ORCH_SA, "internal", "orchestrate", {"APPGEN_DATABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"}),
        "appgen-cleanup": (ORCH_SA, "internal", "cleanup", {"APPGEN_DATABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"}),
        "appgen-builder": (BUILDER_SA, "internal", None, set()),
    }  # fmt: skip
    for name, (account, ingress, target, secrets) in expected.items():
        service = _service(story, name)
        (container,) = service["spec"]["template"]["spec"]["containers"]
        plain, secret = _env(container)
        assert service["spec"]["template"]["spec"]["serviceAccountName"] == account.split(":")[1], name
        assert service["metadata"]["annotations"]["run.googleapis.com/ingress"] == ingress, name
        assert plain.get("FUNCTION_TARGET") == target and set(secret) == secrets, name
    assert _members(story, "appgen-api") == {"roles/run.invoker": {"allUsers"}}


# -- queues, scheduler, buckets, images -------------------------------------------------------------------
def test_queues_retry_lost_deliveries_a_few_times_and_share_the_worker_cap(story: Story) -> None:
    created = {b["name"].rsplit("/", 1)[1]: b for b in story.bodies("POST", "cloudtasks", ".*/queues")}
    assert set(created) == {"app-gen-orchestrator", "app-gen-page", "app-gen-integrate", "app-gen-fix"}
    for queue in created.values():
        assert queue["retryConfig"] == {"maxAttempts": 5, "minBackoff": "10s"}
        assert 1 <= queue["rateLimits"]["maxConcurrentDispatches"] <= 30
    worker_queues = ("app-gen-page", "app-gen-integrate", "app-gen-fix")
    assert sum(created[q]["rateLimits"]["maxConcurrentDispatches"] for q in worker_queues) == 30


def test_scheduler_job_posts_to_cleanup_every_minute_with_the_invokers_oidc_token(story: Story) -> None:
    (job,) = story.bodies("POST", "cloudscheduler", ".*/jobs")
    assert job["name"] == f"projects/{PROJECT}/locations/{REGION}/jobs/appgen-cleanup"
    assert job["schedule"] == "* * * * *" and job["timeZone"] == "Etc/UTC"
    assert job["httpTarget"] == {
        "uri": f"https://appgen-cleanup-{PROJECT_NUMBER}.{REGION}.run.app/internal/cleanup",
        "httpMethod": "POST",
        "oidcToken": {"serviceAccountEmail": INVOKER_SA.split(":")[1], "audience": AUDIENCE},
    }
    cleanup = _service(story, "appgen-cleanup")
    assert json.loads(cleanup["metadata"]["annotations"]["run.googleapis.com/custom-audiences"]) == [AUDIENCE]
    assert _members(story, "appgen-cleanup") == {"roles/run.invoker": {INVOKER_SA}}


def test_buckets_are_private_and_scratch_objects_expire_after_a_day(story: Story) -> None:
    created = {b["name"]: b for b in story.bodies("POST", "storage", "storage/v1/b")}
    assert set(created) == {f"{PROJECT}-appgen-scratch", f"{PROJECT}-appgen-builds"}  # artifacts: Supabase
    for bucket in created.values():
        assert bucket["iamConfiguration"] == {
            "publicAccessPrevention": "enforced",
            "uniformBucketLevelAccess": {"enabled": True},
        }
        assert bucket["location"] == REGION
    expire = {"rule": [{"action": {"type": "Delete"}, "condition": {"age": 1}}]}
    assert created[f"{PROJECT}-appgen-scratch"]["lifecycle"] == expire


def test_images_are_built_by_cloud_build_from_the_checkout_as_the_build_account(story: Story) -> None:
    builds = story.bodies("POST", "cloudbuild", ".*/builds")
    assert sorted(b["substitutions"]["_DOCKERFILE"] for b in builds) == [
        "builder_container/Dockerfile",
        "functions/Dockerfile",
        "worker_container/Dockerfile",
    ]
    for build in builds:
        assert build["serviceAccount"] == f"projects/{PROJECT}/serviceAccounts/{BUILD_SA.split(':')[1]}"
        assert build["source"]["storageSource"]["bucket"] == f"{PROJECT}-appgen-builds"
        assert build["options"] == {"logging": "CLOUD_LOGGING_ONLY"}
    uploads = story.bodies("POST", "storage", "upload/storage/v1/b/.*")
    assert len(uploads) == 3 and all(u["size"] < 5_000_000 for u in uploads)  # .dockerignore applied


# -- IAM -------------------------------------------------------------------------------------------------
def _members(story: Story, service: str) -> dict[str, set[str]]:
    policy = story.policies.get(
        f"run/apis/serving.knative.dev/v1/namespaces/{PROJECT}/services/{service}", {}
    )
    return {b["role"]: set(b["members"]) for b in policy.get("bindings", [])}


def test_iam_grants_exactly_the_least_privilege_roles(story: Story) -> None:
    """Every binding the deploy made, per resource: nothing project-wide but writing logs."""
    queues = ("app-gen-orchestrator", "app-gen-page", "app-gen-integrate", "app-gen-fix")
    expected: dict[str, dict[str, set[str]]] = {
        f"cloudresourcemanager/v1/projects/{PROJECT}": {
            "roles/logging.logWriter": {API_SA, ORCH_SA, WORKER_SA, BUILD_SA}
        },
        **{
            f"cloudtasks/v2/projects/{PROJECT}/locations/{REGION}/queues/{q}": {
                "roles/cloudtasks.enqueuer": {ORCH_SA, WORKER_SA}
                | ({API_SA} if q == "app-gen-orchestrator" else set())
            }
            for q in queues
        },
        f"iam/v1/projects/{PROJECT}/serviceAccounts/{INVOKER_SA.split(':')[1]}": {
            "roles/iam.serviceAccountUser": {API_SA, ORCH_SA, WORKER_SA}
        },
        f"secretmanager/v1/projects/{PROJECT}/secrets/APPGEN_DATABASE_URL": {
            "roles/secretmanager.secretAccessor": {API_SA, ORCH_SA, WORKER_SA}
        },
        f"secretmanager/v1/projects/{PROJECT}/secrets/SUPABASE_SERVICE_ROLE_KEY": {
            "roles/secretmanager.secretAccessor": {API_SA, ORCH_SA, WORKER_SA}
        },
        f"secretmanager/v1/projects/{PROJECT}/secrets/APPGEN_DATABASE_LISTEN_URL": {
            "roles/secretmanager.secretAccessor": {API_SA}
        },
        f"secretmanager/v1/projects/{PROJECT}/secrets/SUPABASE_JWT_SECRET": {
            "roles/secretmanager.secretAccessor": {API_SA}
        },
        f"secretmanager/v1/projects/{PROJECT}/secrets/GEMINI_API_KEY": {
            "roles/secretmanager.secretAccessor": {WORKER_SA}
        },
        f"storage/storage/v1/b/{PROJECT}-appgen-scratch": {"roles/storage.objectUser": {ORCH_SA, WORKER_SA}},
        f"storage/storage/v1/b/{PROJECT}-appgen-builds": {"roles/storage.objectViewer": {BUILD_SA}},
        f"artifactregistry/v1/projects/{PROJECT}/locations/{REGION}/repositories/appgen": {
            "roles/artifactregistry.writer": {BUILD_SA}
        },
        **{
            f"run/apis/serving.knative.dev/v1/namespaces/{PROJECT}/services/{name}": {
                "roles/run.invoker": members
            }
            for name, members in {
                "appgen-api": {"allUsers"},
                "agent-orchestrator": {INVOKER_SA},
                "agent-worker": {INVOKER_SA},
                "appgen-cleanup": {INVOKER_SA},
                "appgen-builder": {WORKER_SA},
            }.items()
        },
    }
    granted = {
        target: {b["role"]: set(b["members"]) for b in policy["bindings"]}
        for target, policy in story.policies.items()
        if policy.get("bindings")
    }
    assert granted == expected
    assert not any(BUILDER_SA in members for roles in granted.values() for members in roles.values())


# -- Supabase, smoke check, idempotency, teardown ---------------------------------------------------------
def test_supabase_is_linked_migrated_and_gets_its_private_bucket_through_its_cli(story: Story) -> None:
    changes = [
        c["argv"] for c in story.supabase_calls if c["argv"][:2] not in (["db", "push"], ["storage", "ls"])
    ]
    pushes = [
        c["argv"]
        for c in story.supabase_calls
        if c["argv"][:2] == ["db", "push"] and "--dry-run" not in c["argv"]
    ]
    assert changes == [["link", f"--project-ref={REF}"], ["seed", "buckets", "--linked"]]
    assert pushes == [["db", "push", "--linked"]]  # once: later runs find the database up to date
    assert all(c["access_token"] and c["db_password"] for c in story.supabase_calls)
    assert all(c["cwd"] == str(story.source) for c in story.supabase_calls)


def test_second_run_deploys_the_services_prints_the_api_url_and_smoke_checks_it(story: Story) -> None:
    phase = _ok(story.phases["second run"])
    url = f"{story.recorder.base_url}/run.app/appgen-api"  # the URL Cloud Run reported for the API service
    assert f"API: {url}" in phase.result.stdout
    smoke = [r.path for r in phase.requests if r.api == "run.app"]
    assert smoke == ["appgen-api/healthz", "appgen-api/api/agentic/jobs"]
    assert "smoke check: GET /healthz -> 200" in phase.result.stderr
    assert "smoke check: GET /api/agentic/jobs -> 200" in phase.result.stderr


def test_a_run_against_a_deployed_project_changes_nothing_and_says_so(story: Story) -> None:
    phase = _ok(story.phases["third run"])
    assert phase.mutations == []
    assert re.search(r"nothing to change: all \d+ resources match", phase.result.stderr)
    assert (
        "the authenticated list call was skipped (pass --smoke-token or set APPGEN_TOKEN)"
        in phase.result.stderr
    )


def test_a_smaller_worker_cap_updates_the_queues_and_the_services_it_caps_and_nothing_else(
    story: Story,
) -> None:
    assert story.update is not None
    report, lines, requests = story.update
    assert sorted(report.updated) == [
        "queue app-gen-fix",
        "queue app-gen-integrate",
        "queue app-gen-orchestrator",
        "queue app-gen-page",
        "service agent-worker",
        "service appgen-builder",
    ]
    assert report.created == [] and report.empty_secrets == []
    changed = sorted((r.method, r.api, r.path.rsplit("/", 1)[1]) for r in requests if r.is_mutation)
    # (`--no-allow-unauthenticated` on an existing service re-applies its IAM policy without allUsers.)
    assert changed == [
        ("PATCH", "cloudtasks", "app-gen-fix"),
        ("PATCH", "cloudtasks", "app-gen-integrate"),
        ("PATCH", "cloudtasks", "app-gen-orchestrator"),
        ("PATCH", "cloudtasks", "app-gen-page"),
        ("POST", "run", "agent-worker:setIamPolicy"),
        ("POST", "run", "appgen-builder:setIamPolicy"),
        ("PUT", "run", "agent-worker"),
        ("PUT", "run", "appgen-builder"),
    ]
    caps = {
        r.path.rsplit("/", 1)[1]: r.body["rateLimits"]["maxConcurrentDispatches"]
        for r in requests
        if r.is_mutation and r.api == "cloudtasks"
    }
    assert caps["app-gen-orchestrator"] <= 12
    assert caps["app-gen-page"] + caps["app-gen-integrate"] + caps["app-gen-fix"] == 12
    (worker,) = [r.body for r in requests if r.method == "PUT" and r.path.endswith("/agent-worker")]
    assert worker["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/maxScale"] == "12"
    assert worker["spec"]["template"]["spec"]["volumes"] == [
        {"name": "workspace", "emptyDir": {"medium": "Memory", "sizeLimit": "4Gi"}}
    ]
    assert "~ queue app-gen-page: max concurrent dispatches 16 -> 6" in lines
    assert "~ service agent-worker: max instances" in lines


def test_destroy_removes_what_the_deploy_created_and_keeps_the_apis(story: Story) -> None:
    _ok(story.phases["destroy"])
    left = story.recorder.resources
    kinds = ("/serviceAccounts/", "/queues/", "/namespaces/", "/jobs/", "/secrets/", "/repositories/",
             "/networks/", "/subnetworks/", "/managedZones/")  # fmt: skip
    for kind in kinds:
        assert not [k for k in left if kind in k], kind
    assert not [k for k in left if k.startswith("storage/storage/v1/b/")]
    assert f"serviceusage/v1/projects/{PROJECT}/services/run.googleapis.com" in left
    project_policy = story.recorder.policies[f"cloudresourcemanager/v1/projects/{PROJECT}"]
    assert not [m for b in project_policy.get("bindings", []) for m in b["members"] if m in SA.values()]


def test_no_secret_value_or_token_is_ever_read_or_printed(story: Story) -> None:
    for phase in story.phases.values():
        assert SUPABASE_TOKEN not in phase.result.output and DB_PASSWORD not in phase.result.output
        assert not [r for r in phase.requests if ":access" in r.path], "a secret value was read"
    assert not any(SUPABASE_TOKEN in " ".join(c["argv"]) for c in story.supabase_calls)
