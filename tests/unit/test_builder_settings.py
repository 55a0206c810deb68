"""Where apps are built: boxes on this machine by default, the builder service with `APPGEN_BUILDER=remote`
(whose URL must keep the worker's token and the tenant's files off plain HTTP), and a worker in cloud
mode that refuses to build apps itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from appgen import errors, sandbox, services
from appgen.pipeline.builder import LocalBuilder
from appgen.pipeline.remote_builder import RemoteBuilder
from appgen.services import Services
from appgen.settings import REPO_ROOT, Settings, load_settings

BUILDER_URL = "https://appgen-builder-123456789012.europe-west1.run.app"
CLOUD = {
    "APPGEN_DISPATCHER": "cloud-tasks",
    "APPGEN_GCP_PROJECT": "demo-project",
    "APPGEN_TASKS_LOCATION": "europe-west1",
    "APPGEN_TASKS_SERVICE_ACCOUNT": "appgen-tasks@demo-project.iam.gserviceaccount.com",
    "APPGEN_TASKS_AUDIENCE": "appgen-tasks-demo-project",
    "APPGEN_ORCHESTRATE_URL": "https://orchestrate.example",
    "APPGEN_WORKER_URL": "https://worker.example",
    "APPGEN_ARTIFACT_STORE": "gcs",
    "APPGEN_ARTIFACT_BUCKET": "acme-artifacts",
    "APPGEN_SCRATCH_STORE": "gcs",
    "APPGEN_SCRATCH_BUCKET": "acme-scratch",
}


def _builder(settings: Settings) -> object:
    return Services(settings, None, None, None, None).builder  # type: ignore[arg-type]


def test_apps_are_built_in_local_boxes_by_default(tmp_path: Path) -> None:
    settings = load_settings({"APPGEN_DATA_DIR": str(tmp_path)})
    assert (settings.builder, settings.builder_url, settings.builder_audience) == ("local", None, None)
    builder = _builder(settings)
    assert isinstance(builder, LocalBuilder) and builder.installs
    assert builder.cache.root == tmp_path / "npm-cache"


def test_a_remote_builder_calls_the_url_with_a_token_for_its_audience() -> None:
    builder = _builder(load_settings({"APPGEN_BUILDER": "remote", "APPGEN_BUILDER_URL": BUILDER_URL + "/"}))
    assert isinstance(builder, RemoteBuilder)
    assert (builder.url, builder.audience) == (BUILDER_URL, BUILDER_URL)  # the URL is Cloud Run's audience
    custom = load_settings(
        {
            "APPGEN_BUILDER": "remote",
            "APPGEN_BUILDER_URL": BUILDER_URL,
            "APPGEN_BUILDER_AUDIENCE": "appgen-builder",
        }
    )
    assert _builder(custom).audience == "appgen-builder"  # type: ignore[attr-defined]
    local = load_settings({"APPGEN_BUILDER": "remote", "APPGEN_BUILDER_URL": "http://127.0.0.1:8088"})
    assert _builder(local).url == "http://127.0.0.1:8088"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APPGEN_BUILDER": "remot"}, "APPGEN_BUILDER must be one of local, remote, got 'remot'; did you mean remote?"),
        ({"APPGEN_BUILDER": "remote"}, "APPGEN_BUILDER=remote needs APPGEN_BUILDER_URL (not set)"),
        ({"APPGEN_BUILDER_URI": BUILDER_URL}, "unknown setting APPGEN_BUILDER_URI; did you mean APPGEN_BUILDER_URL?"),
        (
            {"APPGEN_BUILDER": "remote", "APPGEN_BUILDER_URL": "http://appgen-builder.internal"},
            "APPGEN_BUILDER_URL must use https (plain http only to 127.0.0.1 or localhost), "
            "got 'http://appgen-builder.internal'",
        ),
        (
            {"APPGEN_BUILDER": "remote", "APPGEN_BUILDER_URL": BUILDER_URL + "/build"},
            "APPGEN_BUILDER_URL must be the builder service's base URL, like https://appgen-builder-…run.app, "
            f"got '{BUILDER_URL}/build'",
        ),
        (
            {"APPGEN_BUILDER": "remote", "APPGEN_BUILDER_URL": "appgen-builder:8080"},
            "APPGEN_BUILDER_URL must be the builder service's base URL, like https://appgen-builder-…run.app, "
            "got 'appgen-builder:8080'",
        ),
    ],
)  # fmt: skip
def test_builder_settings_say_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(errors.ConfigError) as raised:
        load_settings(env)
    assert raised.value.message == message


def _check_worker(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The worker's start-up check of `env`; the boxes it started."""
    started: list[str] = []
    monkeypatch.setattr(sandbox, "check", lambda: started.append("box"))
    worker = {"APPGEN_GEMINI_BIN": str(REPO_ROOT / "pyproject.toml")}  # any file: the check is `is_file`
    services._check_agents(load_settings({**worker, **env}))
    return started


def test_a_worker_in_cloud_mode_never_builds_apps_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.ConfigError) as raised:
        _check_worker(CLOUD, monkeypatch)
    assert raised.value.message == (
        "APPGEN_DISPATCHER=cloud-tasks needs APPGEN_BUILDER=remote: in the cloud the worker, which holds the "
        "secrets, never builds an app itself but sends it to the builder service"
    )
    remote = {"APPGEN_BUILDER": "remote", "APPGEN_BUILDER_URL": BUILDER_URL}
    assert _check_worker({**CLOUD, **remote}, monkeypatch) == []  # and needs no box of its own
    assert _check_worker({}, monkeypatch) == ["box"]  # locally it builds in boxes, checked at start
