"""What `appgen dev` serves for the `/build` reference frontend, and nothing else does (the function
targets answer these paths 404):

- `GET /build/…`: the built static files of `web/` (`web/dist/`, built by `make deps`; until then a page
  saying how to build it), with the single page app's fallback: a path that is not a file and whose last segment has no extension (`/build/jobs/…`)
  gets `index.html`, which is never cached; hashed assets under `/build/assets/` are cached for good.
- `GET /build/config.json`: what the static app reads at start: the API's URL, whether the development
  sign-in below exists, and the Supabase project to sign in with when one is configured.
- `POST /dev/token` `{"userId": "<uuid>"}`: a development sign-in, a token for any user signed with the
  Supabase CLI's public local secret. It exists only while the stack verifies tokens with that secret
  (never with a project's), and answers only on a loopback host name (a DNS-rebinding page cannot use it).
"""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask
import jwt
from werkzeug.security import safe_join

from appgen import auth, errors
from appgen.http_api import Route
from appgen.ids import parse_uuid
from appgen.request_parsing import json_body
from appgen.responses import error_response, json_response, timestamp
from appgen.services import Services
from appgen.settings import LOCAL_JWT_SECRET, Settings

PREFIX = "/build"
CONFIG = f"{PREFIX}/config.json"
DEV_TOKEN_TTL_S = 3600
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
# Deterministic types for what Vite emits (the system's mime.types may lack or differ on some).
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
}


def is_static(path: str) -> bool:
    return path == PREFIX or (path.startswith(f"{PREFIX}/") and path != CONFIG)


def serve_static(request: flask.Request, get_services: Callable[[], Services]) -> flask.Response:
    try:
        if request.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed(f"{request.method} is not allowed on {request.path}")
        if request.path == PREFIX:  # relative asset URLs need the trailing slash
            return flask.Response(status=308, headers={"Location": f"{PREFIX}/"})
        return _static_file(request.path.removeprefix(f"{PREFIX}/"), get_services().settings.web_dist_dir)
    except errors.AppgenError as exc:
        return error_response(exc)


_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>appgen: /build is not built yet</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>The /build frontend is not built yet</h1>
<p><code>appgen dev</code> serves the static files of <code>web/dist/</code> here, and
<code>{index}</code> is missing. Build it, then reload this page:</p>
<pre>make deps    # or: npm --prefix web ci &amp;&amp; npm --prefix web run build</pre>
<p>The API works without it: <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""


def _static_file(subpath: str, dist: Path) -> flask.Response:
    index = dist / "index.html"
    if not index.is_file():  # a page a person reads in the browser, not a JSON error
        page = _NOT_BUILT.format(index=html.escape(str(index)))
        return flask.Response(page, status=404, mimetype="text/html", headers={"Cache-Control": "no-store"})
    joined = safe_join(str(dist), subpath) if subpath else None
    file = Path(joined) if joined else None
    if file is not None and file.is_file() and file.resolve().is_relative_to(dist.resolve()):
        cache = "public, max-age=31536000, immutable" if subpath.startswith("assets/") else "no-cache"
        return _send(file, "no-store" if file == index else cache)
    if subpath and "." in subpath.rsplit("/", 1)[-1]:
        raise errors.NotFound(f"no file {PREFIX}/{subpath}")  # a missing asset, not a route of the app
    return _send(index, "no-store")  # the app's own routes (`/build/jobs/…`) are its index page


def _send(file: Path, cache_control: str) -> flask.Response:
    kind = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    response = flask.send_file(file, mimetype=kind, conditional=True, etag=True, max_age=None)
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def dev_sign_in(settings: Settings) -> bool:
    """Only a stack that verifies tokens with the public local secret may hand out tokens."""
    return settings.jwt_secret == LOCAL_JWT_SECRET and not settings.supabase_jwks_url


def _config(request: flask.Request, services: Services, _: dict[str, str]) -> flask.Response:
    settings = services.settings
    response = json_response(
        {
            # The origin the page was loaded from: same origin, so no CORS, whichever name it used.
            "apiUrl": request.host_url.rstrip("/"),
            "devSignIn": dev_sign_in(settings),
            "supabaseUrl": settings.supabase_url,
            "supabaseAnonKey": settings.supabase_anon_key,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _dev_token(request: flask.Request, services: Services, _: dict[str, str]) -> flask.Response:
    if not dev_sign_in(services.settings):
        raise errors.NotFound(
            "development sign-in is off: this stack verifies tokens with SUPABASE_JWT_SECRET or the "
            "project's keys, so sign in with Supabase Auth"
        )
    if request.host.rsplit(":", 1)[0] not in _LOOPBACK:
        raise errors.NotFound("development sign-in answers on 127.0.0.1 or localhost only")
    body: Any = json_body(request)
    user = parse_uuid(body.get("userId")) if isinstance(body, dict) else None
    if user is None or set(body) != {"userId"}:
        raise errors.InvalidRequest(
            'the body must be {"userId": "<uuid>"}',
            details=[{"path": "userId", "message": "a UUID is required, and nothing else"}],
        )
    token = auth.mint_user_token(user, LOCAL_JWT_SECRET, DEV_TOKEN_TTL_S)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    return json_response({"accessToken": token, "expiresAt": timestamp(datetime.fromtimestamp(expires, UTC))})


# Routes the local stack adds to the public router (`http_api.handle`), so that they get its error
# handling and CORS; the function targets never have them.
ROUTES: dict[str, Route] = {
    "build_config": ("GET", re.compile(re.escape(CONFIG)), _config),
    "dev_token": ("POST", re.compile(r"/dev/token/?"), _dev_token),
}
