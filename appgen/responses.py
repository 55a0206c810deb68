"""How every HTTP answer of appgen is written: JSON bodies, the job object of the API contract, and
errors as `{"error": {code, message, details}}` with their status (plus `Retry-After` and
`WWW-Authenticate` where they apply). The public router (`http_api.py`), the internal endpoints
(`internal_api.py`), the function targets and the local stack all answer through here."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import flask

from appgen import errors
from appgen.gateway import Row


def error_response(exc: errors.AppgenError) -> flask.Response:
    response = json_response(exc.to_body(), exc.http_status)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    if exc.http_status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="appgen"'
    return response


def job_json(row: Row) -> dict[str, Any]:
    """The job object of the API contract (DESIGN.md §4)."""
    return {
        "jobId": str(row["job_id"]),
        "projectId": str(row["project_id"]),
        "status": row["status"],
        "stage": row["stage"],
        "progress": {
            "percent": row["percent"],
            "pagesDone": row["pages_done"],
            "pagesTotal": row["pages_total"],
            "fixRound": row["fix_round"],
            "maxFixRounds": row["max_fix_rounds"],
        },
        "warnings": [{"code": w["code"], "message": w["message"]} for w in row["warnings"]],
        "error": {"code": row["error_code"], "message": row["error_message"]} if row["error_code"] else None,
        "createdAt": timestamp(row["created_at"]),
        "startedAt": timestamp(row["started_at"]),
        "finishedAt": timestamp(row["finished_at"]),
        "artifact": (
            {"sizeBytes": row["artifact_size_bytes"], "checksum": row["artifact_checksum"]}
            if row["artifact_size_bytes"] is not None
            else None
        ),
        "fidelity": [_page_fidelity(page) for page in row.get("fidelity") or []],
    }


def job_etag(job_id: UUID, version: int) -> str:
    """The status route's strong validator of a job object: the job, its version (which rises with every
    change of what get_job returns, see get_job_version in supabase/migrations) and the shape this code
    writes the object in, so that a deploy changing the shape never answers an older copy 304."""
    digest = hashlib.sha256(f"{_JOB_SHAPE}:{job_id}:{version}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def _page_fidelity(page: dict[str, Any]) -> dict[str, Any]:
    """Each figure from 0 to 1, null when not measured (no prerendered page, no screenshot)."""
    return {
        "pageId": page["pageId"],
        **{k: page.get(k) for k in ("text", "structure", "visualDesktop", "visualMobile")},
    }


def log_json(row: Row) -> dict[str, Any]:
    """One log line of the API contract: `{id, at, level, stage, message}` (already redacted)."""
    return {
        "id": row["id"],
        "at": timestamp(row["at"]),
        "level": row["level"],
        "stage": row["stage"],
        "message": row["message"],
    }


def json_response(body: Any, status: int = 200) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the API contract writes times."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def answer_unrouted_paths_in_json() -> None:
    """The Functions Framework routes with Flask's `path` converter, which does not match every path (a
    percent-encoded newline, for one); Flask would answer those with an HTML page. The framework imports
    a target's module inside its app's context, so the module calls this to have them answered as the API
    does."""
    if not flask.has_app_context():
        return

    @flask.current_app.errorhandler(404)
    def unrouted(_: Exception) -> flask.Response:
        return error_response(errors.NotFound("no such route"))


# A job with every part of the object present. What `job_json` writes for it changes with the object's
# shape (a field added, renamed or written differently), and with it every job's ETag.
_SAMPLE_JOB: Row = {
    "job_id": UUID(int=1),
    "project_id": UUID(int=2),
    "status": "completed_with_warnings",
    "stage": "done",
    "percent": 100,
    "pages_done": 1,
    "pages_total": 1,
    "fix_round": 1,
    "max_fix_rounds": 4,
    "warnings": [{"code": "w", "message": "m"}],
    "error_code": "e",
    "error_message": "m",
    "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    "started_at": datetime(2026, 1, 1, 0, 0, 1, 500, tzinfo=UTC),
    "finished_at": datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
    "artifact_size_bytes": 1,
    "artifact_checksum": "c",
    "fidelity": [{"pageId": "p", "text": 1.0, "structure": 0.5, "visualDesktop": 0.25, "visualMobile": None}],
}
_JOB_SHAPE = hashlib.sha256(json.dumps(job_json(_SAMPLE_JOB)).encode()).hexdigest()[:16]
