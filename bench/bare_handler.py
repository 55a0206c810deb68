"""The baseline of the status benchmark (`bench/status.py`): a bare Functions Framework handler that
answers a fixed JSON object about the size of a job, served exactly like the `api` target."""

from __future__ import annotations

import flask
import functions_framework

_BODY = {
    "jobId": "00000000-0000-4000-8000-000000000000",
    "status": "running",
    "stage": "pages",
    "progress": 40,
    "pagesDone": 1,
    "pagesTotal": 4,
    "warnings": [],
}


@functions_framework.http
def bare(request: flask.Request) -> flask.Response:
    return flask.jsonify(_BODY)
