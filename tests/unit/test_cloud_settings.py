"""Cloud configuration: each dispatcher and store choice names what it still needs, secrets are
registered for redaction, and the wiring picks the adapter the settings ask for."""

from __future__ import annotations

from pathlib import Path

import pytest

from appgen import errors
from appgen.cloud.gcs import GcsStore
from appgen.cloud.supabase_storage import SupabaseStorage
from appgen.cloud.tasks import CloudTasksDispatcher
from appgen.dispatch import LocalDispatcher
from appgen.gateway import RestTransport
from appgen.redact import redact
from appgen.services import _control_plane, _dispatcher, _stores
from appgen.settings import load_settings
from appgen.storage import ARTIFACT_BUCKET, SCRATCH_BUCKET, LocalObjectStore

CLOUD_TASKS = {
    "APPGEN_DISPATCHER": "cloud-tasks",
    "APPGEN_GCP_PROJECT": "demo-project",
    "APPGEN_TASKS_LOCATION": "europe-west1",
    "APPGEN_TASKS_SERVICE_ACCOUNT": "appgen-tasks@demo-project.iam.gserviceaccount.com",
    "APPGEN_TASKS_AUDIENCE": "https://appgen-internal.example",
    "APPGEN_ORCHESTRATE_URL": "https://orchestrate-abc-ew.a.run.app/",
    "APPGEN_WORKER_URL": "https://worker-abc-ew.a.run.app",
}
SERVICE_KEY = "sb_secret_settings-test-service-key-42"


def test_the_defaults_stay_local() -> None:
    settings = load_settings({})
    assert (settings.dispatcher, settings.artifact_store, settings.scratch_store) == (
        "local",
        "local",
        "local",
    )


def test_cloud_tasks_settings_build_the_cloud_tasks_dispatcher() -> None:
    settings = load_settings(CLOUD_TASKS)
    dispatcher = _dispatcher(settings)
    assert isinstance(dispatcher, CloudTasksDispatcher)
    assert (dispatcher.project, dispatcher.location) == ("demo-project", "europe-west1")
    assert dispatcher.service_account_email == "appgen-tasks@demo-project.iam.gserviceaccount.com"
    assert dispatcher.audience == "https://appgen-internal.example"
    assert dispatcher.target_urls == {
        "orchestrate": "https://orchestrate-abc-ew.a.run.app",
        "worker": "https://worker-abc-ew.a.run.app",
    }


def test_local_settings_build_the_local_dispatcher() -> None:
    dispatcher = _dispatcher(load_settings({"APPGEN_INTERNAL_SECRET": "x" * 40}))
    try:
        assert isinstance(dispatcher, LocalDispatcher)
    finally:
        dispatcher.close()


@pytest.mark.parametrize("missing", sorted(set(CLOUD_TASKS) - {"APPGEN_DISPATCHER"}))
def test_cloud_tasks_without_a_value_names_it(missing: str) -> None:
    env = {k: v for k, v in CLOUD_TASKS.items() if k != missing}
    with pytest.raises(errors.ConfigError) as raised:
        load_settings(env)
    assert raised.value.message == f"APPGEN_DISPATCHER=cloud-tasks needs {missing} (not set)"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"APPGEN_DISPATCHER": "cloudtasks"},
            "APPGEN_DISPATCHER must be one of local, cloud-tasks, got 'cloudtasks'; did you mean cloud-tasks?",
        ),
        (
            {"APPGEN_ARTIFACT_STORE": "s3"},
            "APPGEN_ARTIFACT_STORE must be one of local, supabase, gcs, got 's3'",
        ),
        (
            {"APPGEN_SCRATCH_STORE": "supabase"},
            "APPGEN_SCRATCH_STORE must be one of local, gcs, got 'supabase'",
        ),
        (
            {"APPGEN_ARTIFACT_STORE": "supabase", "SUPABASE_URL": "https://x.supabase.co"},
            "APPGEN_ARTIFACT_STORE=supabase needs SUPABASE_SERVICE_ROLE_KEY (not set)",
        ),
        (
            {"APPGEN_ARTIFACT_STORE": "supabase"},
            "APPGEN_ARTIFACT_STORE=supabase needs SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY (not set)",
        ),
        (
            {"APPGEN_ARTIFACT_STORE": "gcs"},
            "APPGEN_ARTIFACT_STORE=gcs needs APPGEN_ARTIFACT_BUCKET (not set)",
        ),
        ({"APPGEN_SCRATCH_STORE": "gcs"}, "APPGEN_SCRATCH_STORE=gcs needs APPGEN_SCRATCH_BUCKET (not set)"),
        (
            {"APPGEN_SCRATCH_BUCKETS": "x"},
            "unknown setting APPGEN_SCRATCH_BUCKETS; did you mean APPGEN_SCRATCH_BUCKET?",
        ),
    ],
)
def test_invalid_store_choices_say_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(errors.ConfigError) as raised:
        load_settings(env)
    assert raised.value.message == message


def test_supabase_artifacts_and_gcs_scratch_are_built_and_the_key_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # anonymous credentials, no network
    settings = load_settings(
        {
            **CLOUD_TASKS,
            "APPGEN_ARTIFACT_STORE": "supabase",
            "SUPABASE_URL": "https://abcd.supabase.co/",
            "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY,
            "APPGEN_SCRATCH_STORE": "gcs",
            "APPGEN_SCRATCH_BUCKET": "acme-appgen-scratch",
        }
    )
    artifacts, scratch = _stores(settings)
    assert isinstance(artifacts, SupabaseStorage)
    assert artifacts.supabase_url == "https://abcd.supabase.co"
    assert isinstance(scratch, GcsStore)
    assert scratch.bucket_name(SCRATCH_BUCKET) == "acme-appgen-scratch"
    assert redact(f"key={SERVICE_KEY} and {SERVICE_KEY}") == "key=[REDACTED] and [REDACTED]"


def test_one_gcs_store_serves_both_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    settings = load_settings(
        {
            "APPGEN_ARTIFACT_STORE": "gcs",
            "APPGEN_ARTIFACT_BUCKET": "acme-artifacts",
            "APPGEN_SCRATCH_STORE": "gcs",
            "APPGEN_SCRATCH_BUCKET": "acme-scratch",
        }
    )
    artifacts, scratch = _stores(settings)
    assert artifacts is scratch
    assert isinstance(artifacts, GcsStore)
    assert artifacts.bucket_name(ARTIFACT_BUCKET) == "acme-artifacts"
    assert artifacts.bucket_name(SCRATCH_BUCKET) == "acme-scratch"


def test_local_stores_are_one_local_store(tmp_path: Path) -> None:
    settings = load_settings({"APPGEN_INTERNAL_SECRET": "x" * 40, "APPGEN_DATA_DIR": str(tmp_path)})
    artifacts, scratch = _stores(settings)
    assert artifacts is scratch
    assert isinstance(artifacts, LocalObjectStore)
    assert artifacts.root == tmp_path / "objects"


def test_gcs_without_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    settings = load_settings({"APPGEN_ARTIFACT_STORE": "gcs", "APPGEN_ARTIFACT_BUCKET": "acme-artifacts"})
    with pytest.raises(errors.ConfigError, match="the GCS store needs Application Default Credentials"):
        _stores(settings)


def test_without_a_database_url_the_control_plane_is_supabase_rest() -> None:
    rest = _control_plane(
        load_settings(
            {
                "SUPABASE_URL": "https://abc.supabase.co",
                "SUPABASE_ANON_KEY": "anon-key",
                "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY,
            }
        )
    )
    assert isinstance(rest.transport, RestTransport)
    rest.transport.close()
    with pytest.raises(
        errors.ConfigError, match=r"APPGEN_DATABASE_URL .* or SUPABASE_URL, SUPABASE_ANON_KEY"
    ):
        _control_plane(load_settings({"SUPABASE_URL": "https://abc.supabase.co"}))
