"""The local stack's HTTP server: the public API, the internal task endpoints and signed downloads on one
port, as separate Cloud Run services and Supabase Storage would serve them in the cloud."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from appgen import errors, http_api, internal_api
from appgen.localstack import frontend
from appgen.redact import redact
from appgen.responses import error_response
from appgen.services import Services
from appgen.storage import LocalObjectStore

log = logging.getLogger(__name__)

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_app(get_services: Callable[[], Services]) -> flask.Flask:
    app = flask.Flask("appgen-local")

    @app.route("/", defaults={"path": ""}, methods=_METHODS)
    @app.route("/<path:path>", methods=_METHODS)
    def everything(path: str) -> flask.Response:
        request = flask.request
        if request.path.startswith("/internal/"):
            return internal_api.handle(request, get_services)
        if request.path.startswith("/files/"):
            return _serve_file(request, get_services)
        if frontend.is_static(request.path):
            return frontend.serve_static(request, get_services)
        return http_api.handle(request, get_services, extra_routes=frontend.ROUTES)

    @app.errorhandler(404)
    def unrouted(_: Exception) -> flask.Response:
        # Flask's `path` converter does not match every path (a percent-encoded newline, for one); such
        # requests still get the API's own JSON answer, never Flask's HTML page.
        return everything(flask.request.path)

    return app


def serve(app: flask.Flask, host: str, port: int) -> BaseWSGIServer:
    """The stack's HTTP server (werkzeug, a thread per connection, so event streams can stay open), not
    yet serving: call `serve_forever`."""
    return make_server(host, port, app, threaded=True, request_handler=_RequestHandler)


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's, with every line it logs redacted: its access log names the whole URL, and the event
    stream takes access tokens as `?access_token=`."""

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, "%s", redact(message % args if args else message))


def _serve_file(request: flask.Request, get_services: Callable[[], Services]) -> flask.Response:
    """A signed download link of the local object store (Supabase Storage serves these in the cloud)."""
    try:
        store = get_services().artifacts
        if not isinstance(store, LocalObjectStore) or request.method not in ("GET", "HEAD"):
            raise errors.NotFound()
        # request.path is already percent-decoded, exactly once, as the signer quoted it.
        bucket, _, path = request.path.removeprefix("/files/").partition("/")
        file = store.open_signed(bucket, path, request.args.get("expires"), request.args.get("signature"))
    except errors.AppgenError as exc:
        return error_response(exc)
    except Exception:
        log.exception("download crashed", extra={"action": "files.crash", "path": request.path})
        return error_response(errors.AppgenError())
    return flask.send_file(file, mimetype="application/zip", as_attachment=True, download_name=file.name)
