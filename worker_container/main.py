"""The worker container's entrypoint (Functions Framework target `run_task`): one pipeline step per
delivered Cloud Tasks task (queues app-gen-page, app-gen-integrate, app-gen-fix), on
`POST /internal/worker` only; other paths get 404.

Run locally with `functions-framework --source worker_container/main.py --target run_task`.
"""

from __future__ import annotations

import flask
import functions_framework

# `worker` is imported here, not on the first delivery (as `internal_api` does for the lighter targets):
# an instance loads the pipeline's modules while it starts, not while its first task waits.
from appgen import internal_api, worker  # noqa: F401
from appgen.logs import configure
from appgen.responses import answer_unrouted_paths_in_json
from appgen.services import check_ready, services

configure()


@functions_framework.http
def run_task(request: flask.Request) -> flask.Response:
    return internal_api.handle(request, services, internal_api.WORKER)


answer_unrouted_paths_in_json()
check_ready(runs_agents=True)  # incomplete configuration stops the start with the reason
