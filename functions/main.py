"""Functions Framework targets (Cloud Run functions). Each is thin: route, one service call, respond.

Public: `api` (every public route) and the single-purpose `submit`, `status`, `download`, `logs`,
`cancel`, `list_jobs`, `events`. Internal (queue and scheduler callers only): `orchestrate`, serving only
`POST /internal/orchestrate`, and `cleanup`, serving only `POST /internal/cleanup`; other paths get 404.
Run one locally with `functions-framework --source functions/main.py --target api`.
"""

from __future__ import annotations

import flask
import functions_framework

from appgen import http_api, internal_api
from appgen.responses import answer_unrouted_paths_in_json
from appgen.services import check_ready, services


def _public(*endpoints: str):  # type: ignore[no-untyped-def]
    allowed = frozenset(endpoints) if endpoints else None

    def target(request: flask.Request) -> flask.Response:
        return http_api.handle(request, services, allowed)

    return target


api = functions_framework.http(_public())
submit = functions_framework.http(_public("submit"))
status = functions_framework.http(_public("status"))
download = functions_framework.http(_public("download"))
logs = functions_framework.http(_public("logs"))
cancel = functions_framework.http(_public("cancel"))
list_jobs = functions_framework.http(_public("list_jobs"))
# The job event stream holds a server thread per open stream: a service of its own can be given many
# threads (THREADS) without touching the others. Served by `api` too, on at most half its threads.
events = functions_framework.http(_public("events"))


@functions_framework.http
def orchestrate(request: flask.Request) -> flask.Response:
    """Cloud Tasks queue `app-gen-orchestrator`: start a job when its owner has a free slot."""
    return internal_api.handle(request, services, internal_api.ORCHESTRATE)


@functions_framework.http
def cleanup(request: flask.Request) -> flask.Response:
    """Cloud Scheduler: retention and stuck-work sweeps."""
    return internal_api.handle(request, services, internal_api.CLEANUP)


answer_unrouted_paths_in_json()

# Incomplete configuration stops the start with the reason. The framework imports this module inside
# its app's context, which is named after the target it serves: the internal ones verify no user tokens.
_TARGET = flask.current_app.name if flask.has_app_context() else None
check_ready(serves_users=_TARGET not in ("orchestrate", "cleanup"))
