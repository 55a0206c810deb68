"""What `appgen deploy` creates: the plan's "GCP Setup (From Scratch)" as one declarative list, in stages.

Every name, size and role of the deployment is written here once. Resources of one stage do not depend
on each other (the loop may run them side by side); each stage needs the ones before it:

1. the APIs;
2. the secrets, created empty, then a checkpoint: a real run stops here until each has a value (added
   by the operator, never through this tool);
3. the image repository, the service accounts, the buckets, the queues, the network;
4. least-privilege access: each service account gets exactly the roles its service needs, on the
   narrowest resource that grants them (see `_bindings`); the network's subnet and private DNS zone
   (`network.py` says why the worker and the builder need them);
5. the images, built by Cloud Build from the source checkout; the zone's `*.run.app` record; the
   Supabase project (link, migrations, private bucket) with `--supabase-ref`;
6. the Cloud Run services;
7. who may call them (the queues' and the scheduler's service account; the worker on the builder) and
   the Cloud Scheduler job of the cleanup sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from appgen.deploy.apis import Apis
from appgen.deploy.buckets import Bucket
from appgen.deploy.cloudrun import Service
from appgen.deploy.iam import Binding, ServiceAccount
from appgen.deploy.images import Image, Repository, content_tag
from appgen.deploy.network import PRIVATE_GOOGLE_ACCESS, ARecord, Network, PrivateZone, Subnet
from appgen.deploy.queues import Queue, SchedulerJob
from appgen.deploy.resources import Resource, Scope
from appgen.deploy.secret_manager import Secret, SecretsFilled
from appgen.deploy.supabase import SupabaseBucket, SupabaseLink, SupabaseMigrations
from appgen.dispatch import FIX_QUEUE, INTEGRATE_QUEUE, ORCHESTRATOR_QUEUE, PAGE_QUEUE
from appgen.internal_api import CLEANUP
from appgen.storage import ARTIFACT_BUCKET

APIS = (
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "secretmanager.googleapis.com",
    "cloudtasks.googleapis.com",
    "cloudscheduler.googleapis.com",
    "logging.googleapis.com",
    "iamcredentials.googleapis.com",
    "iam.googleapis.com",  # creating service accounts
    "storage.googleapis.com",  # the buckets
    "compute.googleapis.com",  # the network of the worker's and the builder's Direct VPC egress
    "dns.googleapis.com",  # its private zone for run.app
)
REPOSITORY = "appgen"
BUILDER_DOCKERFILE = "builder_container/Dockerfile"  # the build sandbox's image (containment work)
DOCKERFILES = {
    "worker": "worker_container/Dockerfile",
    "functions": "functions/Dockerfile",
    "builder": BUILDER_DOCKERFILE,
}
# Service accounts: one per service role, none with a project-wide role beyond writing logs.
API_SA = "appgen-api-sa"
ORCHESTRATOR_SA = "agent-orchestrator-sa"  # the orchestrate and cleanup services
WORKER_SA = "agent-worker-sa"
INVOKER_SA = "appgen-tasks-invoker"  # the identity of every task and scheduler call
BUILDER_SA = "appgen-builder-sa"  # the build sandbox: no roles, no secrets
BUILD_SA = "appgen-build-sa"  # Cloud Build, pushing the images
# Cloud Run services.
API = "appgen-api"
ORCHESTRATE = "agent-orchestrator"
CLEANUP_SERVICE = "appgen-cleanup"
WORKER = "agent-worker"
BUILDER = "appgen-builder"
# Secret Manager secrets, each exposed to the services that need it under the same variable name.
DATABASE_URL = "APPGEN_DATABASE_URL"
# The API's one LISTEN connection per instance (job event streams, kept status answers): the session
# pooler or a direct connection, since the transaction pooler that APPGEN_DATABASE_URL names drops
# notifications between transactions. Only the API listens.
DATABASE_LISTEN_URL = "APPGEN_DATABASE_LISTEN_URL"
JWT_SECRET = "SUPABASE_JWT_SECRET"
GEMINI_KEY = "GEMINI_API_KEY"
SERVICE_KEY = "SUPABASE_SERVICE_ROLE_KEY"
QUEUES = (ORCHESTRATOR_QUEUE, PAGE_QUEUE, INTEGRATE_QUEUE, FIX_QUEUE)
SCHEDULER_JOB = "appgen-cleanup"
QUEUE_MAX_ATTEMPTS = 5  # lost deliveries only: the plan's 20/60/180 s backoff is appgen's own
QUEUE_MIN_BACKOFF_S = 10
# The private network (appgen/deploy/network.py). The subnet holds two addresses per instance of the worker
# and the builder during a deploy: a /22 serves up to 250 workers.
NETWORK = "appgen"
SUBNET = "appgen-run"
SUBNET_RANGE = "10.8.0.0/22"
RUN_APP_ZONE = "appgen-run-app"
WORKER_EGRESS = "private-ranges-only"  # run.app through the VPC (the zone), the rest straight out
BUILDER_EGRESS = "all-traffic"  # Google's APIs only: the subnet has no NAT
WORKSPACE_SIZE = "4Gi"  # in-memory /workspace of the worker and the builder, part of their 8 GiB
DEFAULT_MAX_WORKERS = 30  # the plan's global worker cap


@dataclass(frozen=True)
class Options:
    project: str
    region: str
    source: Path
    supabase_ref: str | None = None
    max_workers: int = DEFAULT_MAX_WORKERS


@dataclass
class Plan:
    stages: list[list[Resource]]
    notes: list[str] = field(default_factory=list)
    api_service: str = API

    @property
    def resources(self) -> list[Resource]:
        return [r for stage in self.stages for r in stage]


def bucket_names(project: str) -> dict[str, str]:
    """Real bucket names (global, so prefixed with the project id, itself globally unique)."""
    return {
        "scratch": f"{project}-appgen-scratch",
        "artifacts": f"{project}-appgen-artifacts",
        "builds": f"{project}-appgen-builds",
    }


def queue_caps(max_workers: int) -> dict[str, int]:
    """Concurrent dispatches per queue. The worker queues share the worker's instance cap (each worker
    instance serves one task), so together they never ask for more instances than exist: a dispatch past
    the cap would be refused with 429 and spend one of the task's few attempts."""
    quarter = max(1, max_workers // 4)
    return {
        ORCHESTRATOR_QUEUE: max_workers,
        PAGE_QUEUE: max_workers - 2 * quarter,  # pages run side by side; integrate and fix one per job
        INTEGRATE_QUEUE: quarter,
        FIX_QUEUE: quarter,
    }


def build_plan(options: Options, scope: Scope) -> Plan:
    ref = options.supabase_ref
    buckets = bucket_names(scope.project)
    artifacts_on_gcs = ref is None
    audience = f"appgen-tasks-{scope.project}"
    notes: list[str] = []

    images = {
        name: Image(name, path, content_tag(options.source, path), REPOSITORY, BUILD_SA, buckets["builds"])
        for name, path in DOCKERFILES.items()
        if (options.source / path).is_file()
    }
    if "builder" not in images:
        notes.append(
            f"builder: {BUILDER_DOCKERFILE} does not exist yet (the build sandbox adds it), so its image and "
            f"the {BUILDER} service are skipped; its service account {BUILDER_SA} is created, with no roles"
        )

    env = {
        "APPGEN_DISPATCHER": "cloud-tasks",
        "APPGEN_GCP_PROJECT": scope.project,
        "APPGEN_TASKS_LOCATION": scope.region,
        "APPGEN_TASKS_SERVICE_ACCOUNT": scope.sa_email(INVOKER_SA),
        "APPGEN_TASKS_AUDIENCE": audience,
        "APPGEN_ORCHESTRATE_URL": scope.service_url(ORCHESTRATE),
        "APPGEN_WORKER_URL": scope.service_url(WORKER),
        "APPGEN_PUBLIC_URL": scope.service_url(API),
        "APPGEN_SCRATCH_STORE": "gcs",
        "APPGEN_SCRATCH_BUCKET": buckets["scratch"],
    }
    if artifacts_on_gcs:
        env |= {"APPGEN_ARTIFACT_STORE": "gcs", "APPGEN_ARTIFACT_BUCKET": buckets["artifacts"]}
    else:
        supabase_url = f"https://{ref}.supabase.co"
        env |= {
            "APPGEN_ARTIFACT_STORE": "supabase",
            "SUPABASE_URL": supabase_url,
            "SUPABASE_JWT_ISSUER": f"{supabase_url}/auth/v1",
        }
    service_key = () if artifacts_on_gcs else (SERVICE_KEY,)

    # Private services sit behind Cloud Run IAM, which verifies a caller's ID token and may remove its
    # signature before passing it on (`appgen/cloud/oidc.py`). Never on a public one.
    behind_iam = {"APPGEN_TRUST_CLOUD_RUN_IAM": "1"}

    def functions(target: str, *, private: bool = True) -> dict[str, str]:
        return {"FUNCTION_TARGET": target, **env, **(behind_iam if private else {})}

    # The worker vendors the stylesheets previews link that no starter package provides (its public
    # egress reaches the CDNs; `pipeline/stylesheet_fetch.py` refuses private addresses).
    worker_env = env | behind_iam | {"APPGEN_VENDOR_STYLESHEETS": "1"}
    builder_url = scope.service_url(BUILDER)
    if "builder" in images:  # the worker never builds an app itself in the cloud: the builder does
        worker_env |= {"APPGEN_BUILDER": "remote", "APPGEN_BUILDER_URL": builder_url}

    services = [
        Service(API, images["functions"], API_SA, public=True, ingress="all", cpu="1", memory="1Gi",
                concurrency=80, timeout_s=3600, max_instances=10, env=functions("api", private=False),
                secrets=(DATABASE_URL, DATABASE_LISTEN_URL, JWT_SECRET, *service_key)),
        Service(ORCHESTRATE, images["functions"], ORCHESTRATOR_SA, public=False, ingress="internal", cpu="1",
                memory="1Gi", concurrency=80, timeout_s=120, max_instances=5, env=functions("orchestrate"),
                secrets=(DATABASE_URL, *service_key), audiences=(audience,)),
        Service(CLEANUP_SERVICE, images["functions"], ORCHESTRATOR_SA, public=False, ingress="internal",
                cpu="1", memory="1Gi", concurrency=1, timeout_s=300, max_instances=1,
                env=functions("cleanup"), secrets=(DATABASE_URL, *service_key), audiences=(audience,)),
        Service(WORKER, images["worker"], WORKER_SA, public=False, ingress="internal", cpu="4", memory="8Gi",
                concurrency=1, timeout_s=3600, max_instances=options.max_workers, env=worker_env,
                secrets=(DATABASE_URL, GEMINI_KEY, *service_key), audiences=(audience,),
                workspace=WORKSPACE_SIZE, gen2=True, vpc=(NETWORK, SUBNET, WORKER_EGRESS)),
    ]  # fmt: skip
    if "builder" in images:  # no secrets; it knows only who may call it, and calls nothing
        builder_env = {
            "APPGEN_BUILDER_AUDIENCE": builder_url,
            "APPGEN_BUILDER_CALLER": scope.sa_email(WORKER_SA),
            **behind_iam,
        }
        services.append(
            Service(BUILDER, images["builder"], BUILDER_SA, public=False, ingress="internal", cpu="4",
                    memory="8Gi", concurrency=1, timeout_s=1800, max_instances=options.max_workers,
                    env=builder_env, workspace=WORKSPACE_SIZE, gen2=True,
                    vpc=(NETWORK, SUBNET, BUILDER_EGRESS))
        )  # fmt: skip

    accounts = [
        ServiceAccount(API_SA, "appgen public API"),
        ServiceAccount(ORCHESTRATOR_SA, "appgen orchestrator and cleanup"),
        ServiceAccount(WORKER_SA, "appgen worker"),
        ServiceAccount(INVOKER_SA, "appgen task and scheduler calls"),
        ServiceAccount(BUILDER_SA, "appgen build sandbox (no roles)"),
        ServiceAccount(BUILD_SA, "appgen image builds"),
    ]
    secret_names = (DATABASE_URL, DATABASE_LISTEN_URL, JWT_SECRET, GEMINI_KEY, *service_key)
    stores = [
        Bucket(buckets["scratch"], delete_after_days=1),
        *([Bucket(buckets["artifacts"])] if artifacts_on_gcs else []),
        Bucket(buckets["builds"], delete_after_days=1),
    ]
    queues = [
        Queue(name, QUEUE_MAX_ATTEMPTS, QUEUE_MIN_BACKOFF_S, cap)
        for name, cap in queue_caps(options.max_workers).items()
    ]
    access, invokers = _bindings(services, buckets, artifacts_on_gcs, scope.project)
    supabase: list[Resource] = []
    if ref is not None:
        supabase = [SupabaseLink(ref), SupabaseMigrations(ref), SupabaseBucket(ref, ARTIFACT_BUCKET)]
    cleanup_job = SchedulerJob(
        SCHEDULER_JOB, "* * * * *", CLEANUP_SERVICE, CLEANUP, INVOKER_SA, audience, deadline_s=180
    )
    return Plan(
        stages=[
            [Apis(APIS)],
            [Secret(name) for name in secret_names],
            [SecretsFilled(secret_names, tuple(s.name for s in services))],
            [Repository(REPOSITORY), *accounts, *stores, *queues, Network(NETWORK)],
            [
                *access,
                Subnet(SUBNET, NETWORK, SUBNET_RANGE),
                PrivateZone(RUN_APP_ZONE, "run.app.", NETWORK, "run.app through Private Google Access"),
            ],
            [*images.values(), ARecord(RUN_APP_ZONE, "*.run.app.", PRIVATE_GOOGLE_ACCESS), *supabase],
            list(services),
            [*invokers, cleanup_job],
        ],
        notes=notes,
    )


def _bindings(
    services: list[Service], buckets: dict[str, str], artifacts_on_gcs: bool, project: str
) -> tuple[list[Resource], list[Resource]]:
    """(access before the services start, invoker rights on the services)."""
    runtime = (API_SA, ORCHESTRATOR_SA, WORKER_SA)
    access: list[Resource] = [
        *(Binding("project", project, f"serviceAccount:{sa}", "roles/logging.logWriter")
          for sa in (*runtime, BUILD_SA)),
        # Enqueueing: the API only starts jobs; the orchestrator, the cleanup sweep and the worker may
        # send any step (a redelivery, the next step, the owner's next queued job).
        Binding("queue", ORCHESTRATOR_QUEUE, f"serviceAccount:{API_SA}", "roles/cloudtasks.enqueuer"),
        *(Binding("queue", queue, f"serviceAccount:{sa}", "roles/cloudtasks.enqueuer")
          for sa in (ORCHESTRATOR_SA, WORKER_SA) for queue in QUEUES),
        # Tasks carry the invoker's OIDC token: whoever enqueues must be allowed to act as it.
        *(Binding("service-account", INVOKER_SA, f"serviceAccount:{sa}", "roles/iam.serviceAccountUser")
          for sa in runtime),
        Binding("bucket", buckets["scratch"], f"serviceAccount:{WORKER_SA}", "roles/storage.objectUser"),
        Binding("bucket", buckets["scratch"], f"serviceAccount:{ORCHESTRATOR_SA}", "roles/storage.objectUser"),
        Binding("bucket", buckets["builds"], f"serviceAccount:{BUILD_SA}", "roles/storage.objectViewer"),
        Binding("repository", REPOSITORY, f"serviceAccount:{BUILD_SA}", "roles/artifactregistry.writer"),
    ]  # fmt: skip
    if artifacts_on_gcs:
        access += [
            Binding("bucket", buckets["artifacts"], f"serviceAccount:{WORKER_SA}", "roles/storage.objectUser"),
            Binding("bucket", buckets["artifacts"], f"serviceAccount:{ORCHESTRATOR_SA}",
                    "roles/storage.objectUser"),
            Binding("bucket", buckets["artifacts"], f"serviceAccount:{API_SA}", "roles/storage.objectViewer"),
            # Download links are V4 URLs the API signs through IAM signBlob as itself.
            Binding("service-account", API_SA, f"serviceAccount:{API_SA}", "roles/iam.serviceAccountTokenCreator"),
        ]  # fmt: skip
    seen: set[tuple[str, str]] = set()
    for service in services:  # secretAccessor per secret, for the accounts of the services that read it
        for secret in service.secrets:
            if (secret, service.account) not in seen:
                seen.add((secret, service.account))
                access.append(
                    Binding("secret", secret, f"serviceAccount:{service.account}",
                            "roles/secretmanager.secretAccessor")
                )  # fmt: skip
    invokers: list[Resource] = [
        Binding("service", name, f"serviceAccount:{INVOKER_SA}", "roles/run.invoker")
        for name in (ORCHESTRATE, WORKER, CLEANUP_SERVICE)
    ]
    if any(s.name == BUILDER for s in services):
        invokers.append(Binding("service", BUILDER, f"serviceAccount:{WORKER_SA}", "roles/run.invoker"))
    return access, invokers
