"""The `appgen` API client commands with click's CliRunner against a respx-mocked API: human output by
default, `--json` for scripts, errors as a message (or the API's error object) and exit status 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner

from appgen import cli

API = "http://api.test"
JOB_ID = "6f1c1c8e-4a8e-4f55-9d2a-1b1d9d0b7a10"
JOBS = f"{API}/api/agentic/jobs"


def _job(status: str = "running", **overrides: Any) -> dict[str, Any]:
    return {
        "jobId": JOB_ID,
        "projectId": "0b7a1e1a-2f64-4b8a-9a55-7c5d2e1f3a40",
        "status": status,
        "stage": "pages" if status == "running" else "done",
        "progress": {"percent": 40, "pagesDone": 1, "pagesTotal": 2, "fixRound": 0, "maxFixRounds": 4},
        "warnings": [],
        "error": None,
        "createdAt": "2026-01-01T00:00:00Z",
        "startedAt": "2026-01-01T00:00:01Z",
        "finishedAt": None,
        "artifact": None,
        "fidelity": [],
        **overrides,
    }


@pytest.fixture
def api() -> Any:
    with respx.mock(assert_all_called=False) as router:
        yield router


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli.main, [*args, "--api", API, "--token", "t0k"], catch_exceptions=False)


def test_status_human_and_json(api: Any) -> None:
    route = api.get(f"{JOBS}/{JOB_ID}").respond(200, json=_job())
    human = _run("status", JOB_ID)
    assert human.exit_code == 0
    assert human.output.startswith(f"{JOB_ID} [##########--------------]  40% running (pages; pages 1/2")
    as_json = _run("status", JOB_ID, "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.output) == _job()
    assert route.calls.last.request.headers["Authorization"] == "Bearer t0k"


def test_submit_prints_the_job_id(api: Any, tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"projectId": "p"}))
    route = api.post(JOBS).respond(202, json={"jobId": JOB_ID})
    human = _run("submit", str(spec), "--idempotency-key", "k1")
    assert human.exit_code == 0 and human.output == f"submitted job {JOB_ID}\n"
    assert route.calls.last.request.headers["Idempotency-Key"] == "k1"
    assert json.loads(route.calls.last.request.content) == {"projectId": "p"}
    as_json = _run("submit", str(spec), "--json")
    assert json.loads(as_json.output) == {"jobId": JOB_ID}


def test_submit_wait_follows_to_the_end_and_downloads(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.time, "sleep", lambda _: None)
    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    api.post(JOBS).respond(202, json={"jobId": JOB_ID})
    done = _job("completed", artifact={"sizeBytes": 4, "checksum": "c" * 64})
    api.get(f"{JOBS}/{JOB_ID}").mock(
        side_effect=[httpx.Response(200, json=_job()), httpx.Response(200, json=done)]
    )
    api.post(f"{JOBS}/{JOB_ID}/download").respond(
        200, json={"url": f"{API}/files/x/app.zip?sig=1", "expiresAt": "2026-01-01T00:15:00Z"}
    )
    zipped = api.get(f"{API}/files/x/app.zip").respond(200, content=b"PK..")
    out = tmp_path / "app.zip"
    result = _run("submit", str(spec), "--wait", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "completed" and body["downloadedTo"] == str(out.resolve())
    assert out.read_bytes() == b"PK.."
    assert "Authorization" not in zipped.calls.last.request.headers  # the signed URL is the credential


def test_list_logs_cancel_and_download_json(api: Any, tmp_path: Path) -> None:
    api.get(JOBS).respond(200, json={"jobs": [_job()]})
    listed = _run("list", "--json", "--limit", "5")
    assert json.loads(listed.output) == {"jobs": [_job()]}
    assert api.calls.last.request.url.params["limit"] == "5"
    assert _run("list").output.startswith(JOB_ID)

    entries = [
        {"id": 1, "at": "2026-01-01T00:00:02Z", "level": "info", "stage": "scaffold", "message": "copied"},
        {"id": 2, "at": "2026-01-01T00:00:03Z", "level": "warning", "stage": "pages", "message": "slow"},
    ]
    api.get(f"{JOBS}/{JOB_ID}/logs").respond(200, json={"logs": entries, "nextCursor": None})
    lines = _run("logs", JOB_ID, "--json").output.splitlines()
    assert [json.loads(line) for line in lines] == entries
    assert _run("logs", JOB_ID).output.splitlines() == [
        "2026-01-01T00:00:02Z info    scaffold  copied",
        "2026-01-01T00:00:03Z warning pages     slow",
    ]

    api.post(f"{JOBS}/{JOB_ID}/cancel").respond(202, json=_job("cancelled"))
    assert json.loads(_run("cancel", JOB_ID, "--json").output)["status"] == "cancelled"

    api.post(f"{JOBS}/{JOB_ID}/download").respond(
        200, json={"url": f"{API}/files/y/app.zip", "expiresAt": "2026-01-01T00:15:00Z"}
    )
    api.get(f"{API}/files/y/app.zip").respond(200, content=b"PK1234")
    out = tmp_path / "y.zip"
    downloaded = json.loads(_run("download", JOB_ID, "-o", str(out), "--json").output)
    assert downloaded == {"jobId": JOB_ID, "path": str(out.resolve()), "sizeBytes": 6}
    assert _run("download", JOB_ID, "-o", str(out)).output == f"{out.resolve()}\n"


def test_api_errors_exit_1_with_the_code(api: Any) -> None:
    error = {"error": {"code": "not_found", "message": "No such job."}}
    api.get(f"{JOBS}/{JOB_ID}").respond(404, json=error)
    human = _run("status", JOB_ID)
    assert human.exit_code == 1 and "not_found: No such job." in human.stderr
    as_json = _run("status", JOB_ID, "--json")
    assert as_json.exit_code == 1 and as_json.stdout == ""
    assert json.loads(as_json.stderr) == {"error": {**error["error"], "status": 404}}


def test_an_unreachable_api_is_a_message_not_a_traceback(api: Any) -> None:
    api.get(JOBS).mock(side_effect=httpx.ConnectError("refused"))
    result = _run("list")
    assert result.exit_code == 1 and f"cannot reach the API at {API}" in result.stderr
    assert json.loads(_run("list", "--json").stderr)["error"]["code"] == "unreachable"


def test_a_non_json_error_page_is_reported_with_its_status(api: Any) -> None:
    api.get(JOBS).respond(502, text="<html>Bad gateway</html>")
    result = _run("list")
    assert result.exit_code == 1 and "http_error: HTTP 502" in result.stderr


def test_a_spec_that_is_not_json_is_a_usage_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text("{nope")
    result = _run("submit", str(spec))
    assert result.exit_code == 2 and "not a JSON file" in result.stderr
