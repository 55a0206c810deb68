"""The deploy's plan without the cloud: every service starts with the settings it is deployed with, the
queues never ask for more workers than exist, the builder waits for its Dockerfile, image tags follow
exactly what each image copies, and the CLI runner reads absent things as absent and waits out IAM's
propagation delay. (tests/integration/test_deploy_gcloud.py runs the plan through the real gcloud.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appgen.deploy.cloudrun import Service
from appgen.deploy.iam import Binding
from appgen.deploy.images import content_tag
from appgen.deploy.plan import (
    BUILDER,
    BUILDER_SA,
    FIX_QUEUE,
    INTEGRATE_QUEUE,
    ORCHESTRATOR_QUEUE,
    PAGE_QUEUE,
    WORKER,
    WORKER_SA,
    Options,
    Plan,
    build_plan,
    queue_caps,
)
from appgen.deploy.resources import Scope
from appgen.deploy.runner import DeployError, Runner
from appgen.settings import REPO_ROOT, load_settings
from appgen.settings_checks import check_user_verifier

SCOPE = Scope("demo-proj", "123456789012", "europe-west1")
REF = "abcdefghijklmnopqrst"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout, without the builder's Dockerfile whatever this checkout has."""
    root = tmp_path_factory.mktemp("source") / "repo"
    keep = shutil.ignore_patterns(
        ".git", ".venv", "node_modules", ".appgen", "__pycache__", "*cache", "tests"
    )
    shutil.copytree(REPO_ROOT, root, ignore=keep)
    shutil.rmtree(root / "builder_container", ignore_errors=True)
    return root


def _services(plan: Plan) -> dict[str, Service]:
    return {r.name: r for r in plan.resources if isinstance(r, Service)}


@pytest.mark.parametrize("ref", [None, REF], ids=["artifacts on GCS", "artifacts on Supabase"])
def test_every_service_of_appgen_starts_with_the_settings_it_is_deployed_with(
    source: Path, ref: str | None
) -> None:
    plan = build_plan(Options(SCOPE.project, SCOPE.region, source, ref), SCOPE)
    services = _services(plan)
    assert set(services) == {"appgen-api", "agent-orchestrator", "appgen-cleanup", "agent-worker"}
    for service in services.values():
        env = {**service.env, **{name: f"value of {name} " * 3 for name in service.secrets}}
        settings = load_settings(env)  # refuses unknown APPGEN_* names and incomplete cloud settings
        assert settings.dispatcher == "cloud-tasks" and settings.scratch_store == "gcs"
        assert settings.artifact_store == ("gcs" if ref is None else "supabase")
        assert settings.orchestrate_url == SCOPE.service_url("agent-orchestrator")
        assert settings.worker_url == SCOPE.service_url("agent-worker")
        assert settings.tasks_audience in services["agent-worker"].audiences
        assert settings.database_url, service.name
        if service.public:  # it verifies users' tokens with the project's own secret or keys
            check_user_verifier(settings)
    assert "GEMINI_API_KEY" in services["agent-worker"].secrets
    # Only the API listens for job changes (event streams, kept status answers), over a session of its own.
    api = services["appgen-api"]
    assert load_settings({**api.env, **{n: f"value of {n} " * 3 for n in api.secrets}}).database_listen_url
    assert [s.name for s in services.values() if "APPGEN_DATABASE_LISTEN_URL" in s.secrets] == ["appgen-api"]
    assert not [s for s in services.values() if s.name != "agent-worker" and "GEMINI_API_KEY" in s.secrets]
    assert [s.name for s in services.values() if s.public] == ["appgen-api"]
    assert {s.name for s in services.values() if s.ingress == "internal"} == {
        "agent-orchestrator",
        "appgen-cleanup",
        "agent-worker",
    }


@pytest.mark.parametrize("cap", range(3, 101))
def test_the_worker_queues_together_never_dispatch_more_tasks_than_there_are_workers(cap: int) -> None:
    caps = queue_caps(cap)
    assert set(caps) == {ORCHESTRATOR_QUEUE, PAGE_QUEUE, INTEGRATE_QUEUE, FIX_QUEUE}
    assert all(1 <= n <= cap for n in caps.values())
    assert caps[PAGE_QUEUE] + caps[INTEGRATE_QUEUE] + caps[FIX_QUEUE] == cap


def test_the_builder_waits_for_its_dockerfile_then_gets_a_private_role_less_service(source: Path) -> None:
    without = build_plan(Options(SCOPE.project, SCOPE.region, source), SCOPE)
    assert BUILDER not in _services(without)
    assert any("builder_container/Dockerfile does not exist yet" in note for note in without.notes)
    dockerfile = source / "builder_container" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text('FROM node:22-bookworm-slim\nUSER 10001:10001\nCMD ["node"]\n')
    try:
        plan = build_plan(Options(SCOPE.project, SCOPE.region, source), SCOPE)
    finally:
        shutil.rmtree(dockerfile.parent)
    builder = _services(plan)[BUILDER]
    assert plan.notes == []
    assert (builder.account, builder.ingress, builder.public, builder.concurrency) == (
        BUILDER_SA,
        "internal",
        False,
        1,
    )
    builder_url = SCOPE.service_url(BUILDER)
    assert builder.env == {
        "APPGEN_BUILDER_AUDIENCE": builder_url,
        "APPGEN_BUILDER_CALLER": SCOPE.sa_email(WORKER_SA),
        "APPGEN_TRUST_CLOUD_RUN_IAM": "1",
    }  # who may call it, and nothing else of appgen's
    assert builder.secrets == () and builder.image.dockerfile == "builder_container/Dockerfile"
    assert builder.gen2 and builder.workspace and builder.vpc == ("appgen", "appgen-run", "all-traffic")
    worker, worker_without = _services(plan)[WORKER], _services(without)[WORKER]
    assert (worker.env["APPGEN_BUILDER"], worker.env["APPGEN_BUILDER_URL"]) == ("remote", builder_url)
    assert "APPGEN_BUILDER" not in worker_without.env
    assert worker.vpc == ("appgen", "appgen-run", "private-ranges-only")
    # Both start with what they are deployed with: the worker's builder is the service, whose audience
    # is the URL the worker asks its ID token for, and whose one caller is the worker.
    worker_settings = load_settings(
        {**worker.env, **{name: f"value of {name} " * 3 for name in worker.secrets}}
    )
    builder_settings = load_settings(builder.env)
    assert (worker_settings.builder, worker_settings.builder_url) == ("remote", builder_url)
    assert worker_settings.builder_audience == builder_settings.builder_audience == builder_url
    assert builder_settings.builder_caller == SCOPE.sa_email(worker.account)
    bindings = [r for r in plan.resources if isinstance(r, Binding)]
    assert [(b.kind, b.target, b.role) for b in bindings if b.member.endswith(BUILDER_SA)] == []
    assert [(b.target, b.member) for b in bindings if b.kind == "service" and b.target == BUILDER] == [
        (BUILDER, f"serviceAccount:{WORKER_SA}")
    ]


def test_an_image_tag_changes_exactly_when_what_the_image_copies_changes(source: Path) -> None:
    def tags() -> tuple[str, str]:
        return content_tag(source, "worker_container/Dockerfile"), content_tag(source, "functions/Dockerfile")

    worker, functions = tags()
    assert tags() == (worker, functions)
    (source / "appgen" / "__pycache__").mkdir(exist_ok=True)
    (source / "appgen" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"ignored")
    (source / "examples" / "new.json").write_text("{}")  # copied by neither image
    assert tags() == (worker, functions)
    prompts = source / "prompts" / "system.md"
    prompts.write_text(prompts.read_text() + "\n")  # the worker copies prompts/, the functions do not
    worker_2, functions_2 = tags()
    assert worker_2 != worker and functions_2 == functions
    (source / "appgen" / "policy.py").write_text((source / "appgen" / "policy.py").read_text() + "\n")
    worker_3, functions_3 = tags()
    assert worker_3 != worker_2 and functions_3 != functions_2


# -- the runner ------------------------------------------------------------------------------------------
def _fake_gcloud(directory: Path, script: str) -> Path:
    fake = directory / "gcloud"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    return fake


def test_a_read_of_something_missing_is_none_and_any_other_failure_stops_the_deploy(tmp_path: Path) -> None:
    fake = _fake_gcloud(
        tmp_path,
        'case "$2" in\n'
        '  missing) echo "ERROR: (gcloud.x) NOT_FOUND: Resource not found" >&2; exit 1;;\n'
        '  denied) echo "ERROR: (gcloud.x) PERMISSION_DENIED: caller lacks iam.x" >&2; exit 1;;\n'
        '  *) echo \'{"name": "here"}\';;\nesac',
    )
    run = Runner(cwd=tmp_path, dry_run=False, echo=print, sleep=lambda _: None)
    assert run.read((str(fake), "x", "present")) == {"name": "here"}
    assert run.read((str(fake), "x", "missing")) is None
    with pytest.raises(DeployError, match=r"PERMISSION_DENIED: caller lacks iam\.x"):
        run.read((str(fake), "x", "denied"))


def test_a_binding_to_a_new_service_account_is_retried_until_iam_knows_the_account(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    fake = _fake_gcloud(
        tmp_path,
        f"echo call >> {calls}\n"
        f'if [ "$(wc -l < {calls})" -lt 3 ]; then\n'
        '  echo "ERROR: INVALID_ARGUMENT: Service account a@p.iam.gserviceaccount.com does not exist." >&2; exit 1\n'
        "fi",
    )
    slept: list[float] = []
    run = Runner(cwd=tmp_path, dry_run=False, echo=lambda _: None, sleep=slept.append)
    run.change(
        (str(fake), "projects", "add-iam-policy-binding", "p", "--member=serviceAccount:a@p", "--role=r")
    )
    assert calls.read_text().count("call") == 3 and slept == [2.0, 4.0]


def test_a_dry_run_prints_a_change_and_runs_nothing(tmp_path: Path) -> None:
    printed: list[str] = []
    run = Runner(cwd=tmp_path, dry_run=True, echo=printed.append)
    run.change(("/nonexistent/gcloud", "tasks", "queues", "create", "q", "--schedule=* * * * *"))
    assert printed == ["/nonexistent/gcloud tasks queues create q '--schedule=* * * * *'"]


def test_only_services_behind_cloud_run_iam_accept_tokens_whose_signature_it_removed(source: Path) -> None:
    plan = build_plan(Options(SCOPE.project, SCOPE.region, source, "abcdefghijklmnopqrst"), SCOPE)
    trusting = {
        s.name for s in plan.resources if isinstance(s, Service) and "APPGEN_TRUST_CLOUD_RUN_IAM" in s.env
    }
    private = {s.name for s in plan.resources if isinstance(s, Service) and not s.public}
    assert trusting == private and trusting, "every private service, and no public one"
    assert all(load_settings(s.env | {n: f"value of {n} " * 3 for n in s.secrets}).trust_cloud_run_iam
               for s in plan.resources if isinstance(s, Service) and s.name in trusting)  # fmt: skip
