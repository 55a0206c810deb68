"""Cloud configuration: each dispatcher and store choice names what it still needs, secrets are
registered for redaction, and the wiring picks the adapter the settings ask for."""

from __future__ import annotations

import os
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
from appgen.settings_checks import check_user_verifier
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
# What cloud mode needs besides the queue: stores every instance shares.
CLOUD_STORES = {
    "APPGEN_ARTIFACT_STORE": "gcs",
    "APPGEN_ARTIFACT_BUCKET": "acme-appgen-artifacts",
    "APPGEN_SCRATCH_STORE": "gcs",
    "APPGEN_SCRATCH_BUCKET": "acme-appgen-scratch",
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
    settings = load_settings({**CLOUD_TASKS, **CLOUD_STORES})
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


# -- configuration that cannot be left unsafe -----------------------------------------------------------
def test_no_verifier_is_configured_by_default_and_serving_users_then_refuses_to_start() -> None:
    settings = load_settings({})
    assert settings.jwt_secret is None and settings.supabase_jwks_url is None
    with pytest.raises(errors.ConfigError) as raised:
        check_user_verifier(settings)
    assert raised.value.message.startswith("no way to verify users' access tokens: set SUPABASE_JWT_SECRET")
    check_user_verifier(load_settings({"SUPABASE_JWT_SECRET": "p" * 40}))
    check_user_verifier(load_settings({"SUPABASE_URL": "https://abc.supabase.co"}))
    check_user_verifier(load_settings({"SUPABASE_JWKS_URL": "https://keys.example/jwks.json"}))


@pytest.mark.parametrize(
    ("store", "message"),
    [
        (
            {"APPGEN_ARTIFACT_STORE": "local"},
            "APPGEN_DISPATCHER=cloud-tasks needs APPGEN_ARTIFACT_STORE=supabase or gcs, not local files",
        ),
        (
            {"APPGEN_SCRATCH_STORE": "local"},
            "APPGEN_DISPATCHER=cloud-tasks needs APPGEN_SCRATCH_STORE=gcs, not local files",
        ),
    ],
)
def test_cloud_mode_refuses_local_stores(store: dict[str, str], message: str) -> None:
    with pytest.raises(errors.ConfigError) as raised:
        load_settings({**CLOUD_TASKS, **CLOUD_STORES, **store})
    assert raised.value.message == message


def _cloud_with_data_dir(path: Path) -> None:
    load_settings({**CLOUD_TASKS, **CLOUD_STORES, "APPGEN_DATA_DIR": str(path)})


def test_cloud_mode_refuses_a_data_dir_others_can_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _cloud_with_data_dir(data)  # not there yet: the service creates it itself
    data.mkdir(mode=0o700)
    _cloud_with_data_dir(data)
    data.chmod(0o777)
    with pytest.raises(errors.ConfigError) as raised:
        _cloud_with_data_dir(data)
    assert (
        raised.value.message == f"APPGEN_DATA_DIR ({data}) is writable by every user (mode 777): chmod o-w it"
    )
    data.chmod(0o1733)  # sticky does not help: anyone may still plant new files
    with pytest.raises(errors.ConfigError, match="writable by every user"):
        _cloud_with_data_dir(data)
    (tmp_path / "file").write_text("x")
    with pytest.raises(errors.ConfigError, match="is not a directory"):
        _cloud_with_data_dir(tmp_path / "file")
    load_settings({"APPGEN_DATA_DIR": str(data)})  # outside cloud mode the local stack decides


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a directory's owner needs root")
def test_cloud_mode_refuses_a_data_dir_of_another_user_or_group(tmp_path: Path) -> None:
    nobody = 65534
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chown(data, nobody, -1)
    with pytest.raises(errors.ConfigError) as raised:
        _cloud_with_data_dir(data)
    assert raised.value.message == (
        f"APPGEN_DATA_DIR ({data}) belongs to uid {nobody}, not to this service's user (uid 0)"
    )
    os.chown(data, 0, nobody)
    data.chmod(0o775)
    with pytest.raises(errors.ConfigError, match=f"is writable by group {nobody}, not only by this service"):
        _cloud_with_data_dir(data)
    data.chmod(0o755)
    _cloud_with_data_dir(data)  # the group may read and enter, not write


def test_a_rate_limit_of_zero_turns_limiting_off() -> None:
    assert load_settings({"APPGEN_RATE_LIMIT_PER_MINUTE": "0"}).rate_limit_per_minute == 0
    for bad in ("-1", "nan", "inf", "many"):
        with pytest.raises(errors.ConfigError, match="APPGEN_RATE_LIMIT_PER_MINUTE must be"):
            load_settings({"APPGEN_RATE_LIMIT_PER_MINUTE": bad})
    with pytest.raises(errors.ConfigError) as raised:
        load_settings({"APPGEN_AGENT_MAX_TURNS": "0"})  # zero means nothing there
    assert raised.value.message == "APPGEN_AGENT_MAX_TURNS must be positive, got '0'"


def test_cloud_run_is_recognised_by_the_variable_it_sets() -> None:
    assert load_settings({}).behind_google_front_end is False
    assert load_settings({"K_SERVICE": "appgen-api"}).behind_google_front_end is True


def test_event_streams_take_at_most_half_of_the_frameworks_threads() -> None:
    """Each open event stream holds one of gunicorn's THREADS for its lifetime: the rest must stay free
    for status, logs and submit, whatever APPGEN_EVENTS_PER_INSTANCE says."""
    default = load_settings({})
    assert default.server_threads == (os.cpu_count() or 1) * 4  # the Functions Framework's own default
    assert default.events_instance_cap == min(50, default.server_threads // 2)
    assert load_settings({"THREADS": "8"}).events_instance_cap == 4
    assert load_settings({"THREADS": "200"}).events_instance_cap == 50
    assert load_settings({"THREADS": "200", "APPGEN_EVENTS_PER_INSTANCE": "80"}).events_instance_cap == 80
    dev = load_settings({"THREADS": "8"}).with_overrides(server_threads=None)  # werkzeug: a thread each
    assert dev.events_instance_cap == 50
    with pytest.raises(errors.ConfigError, match="THREADS must be a number, got 'many'"):
        load_settings({"THREADS": "many"})


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, True), ("", True), ("1", True), ("true", True), ("0", False), ("no", False)]
)
def test_visual_fidelity_is_on_unless_turned_off_and_the_trust_flag_off_unless_on(
    raw: str | None, expected: bool
) -> None:
    env = {} if raw is None else {"APPGEN_VISUAL_FIDELITY": raw, "APPGEN_TRUST_CLOUD_RUN_IAM": raw}
    settings = load_settings(env)
    assert settings.visual_fidelity is expected
    assert settings.trust_cloud_run_iam is (expected and raw not in (None, ""))


def test_a_flag_that_is_neither_on_nor_off_says_so() -> None:
    with pytest.raises(errors.ConfigError, match="APPGEN_VISUAL_FIDELITY must be 1 or 0, got 'maybe'"):
        load_settings({"APPGEN_VISUAL_FIDELITY": "maybe"})


def test_warm_agents_default_per_process_kind_and_zero_turns_parking_off() -> None:
    assert load_settings({}).warm_agents is None  # the worker keeps 1, `appgen dev` the page window
    assert load_settings({"APPGEN_WARM_AGENTS": "0"}).warm_agents == 0
    assert load_settings({"APPGEN_WARM_AGENTS": "6"}).warm_agents == 6
    with pytest.raises(errors.ConfigError) as raised:
        load_settings({"APPGEN_WARM_AGENTS": "-1"})
    assert raised.value.message == "APPGEN_WARM_AGENTS must be positive or 0 (none), got '-1'"
