"""The builder container's entrypoint (Functions Framework target `build`): builds one workspace snapshot
per request on `POST /build` for the worker's `RemoteBuilder`; other paths get 404. It holds no secret
and refuses to start with one (`appgen/builder_service.py`).

Run locally with `functions-framework --source builder_container/main.py --target build`.
"""

from __future__ import annotations

import flask
import functions_framework

from appgen import builder_service
from appgen.logs import configure
from appgen.responses import answer_unrouted_paths_in_json

configure()


@functions_framework.http
def build(request: flask.Request) -> flask.Response:
    return builder_service.handle(request, builder_service.current)


answer_unrouted_paths_in_json()
builder_service.check_ready()  # a secret in the environment, or no box, stops the start with the reason
