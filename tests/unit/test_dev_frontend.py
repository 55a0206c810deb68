"""What `appgen dev` serves for the /build reference frontend (appgen/localstack/frontend.py): the built
static files with the single page app's fallback, a page saying how to build them when they are not, the
runtime config.json, and the development sign-in; and that none of it exists in the cloud targets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask.testing
import functions_framework
import jwt
import pytest

from appgen import services as services_module
from appgen.dispatch import InMemoryDispatcher
from appgen.gateway import Caller, ControlPlane, Row, RpcTransport
from appgen.localstack.server import create_app
from appgen.services import Services
from appgen.settings import LOCAL_JWT_SECRET, REPO_ROOT, Settings
from appgen.storage import LocalObjectStore

FUNCTIONS = str(REPO_ROOT / "functions" / "main.py")
SECRET = "s" * 32
INDEX = b"<!doctype html><title>appgen /build</title><script src='/build/assets/app-1a2b.js'></script>"


class NoJobs(RpcTransport):
    """Every RPC answers no rows (list_jobs: an empty list), and says which ran."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def call(self, function: str, args: dict[str, Any], caller: Caller) -> list[Row]:
        self.calls.append(function)
        return []


def _services(tmp_path: Path, **settings: Any) -> Services:
    config = Settings(
        data_dir=tmp_path, internal_secret=SECRET, jwt_secret=LOCAL_JWT_SECRET, web_dist_dir=tmp_path / "dist"
    ).with_overrides(**settings)
    store = LocalObjectStore(tmp_path / "objects", "http://testserver", SECRET)
    return Services(config, ControlPlane(NoJobs()), InMemoryDispatcher(), store, store)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "assets" / "app-1a2b.js").write_text("console.log('appgen');\n")
    (tmp_path / "secret.txt").write_text("outside dist")
    return dist


def _client(services: Services) -> flask.testing.FlaskClient:
    return create_app(lambda: services).test_client()


def _get(client: flask.testing.FlaskClient, path: str) -> Any:
    """A GET whose file (send_file streams it) is closed once read."""
    with client.get(path) as answer:
        answer.get_data()
        return answer


def test_the_built_frontend_is_served_at_build_with_the_apps_routes_falling_back_to_its_index(
    tmp_path: Path, built: Path
) -> None:
    client = _client(_services(tmp_path))
    bare = client.get("/build")
    assert (bare.status_code, bare.headers["Location"]) == (308, "/build/")  # relative assets need the /
    for path in ("/build/", "/build/index.html", "/build/jobs/6f0a1c52-0000-4000-8000-000000000000"):
        page = _get(client, path)
        assert (page.status_code, page.data, page.mimetype) == (200, INDEX, "text/html"), path
        assert page.headers["Cache-Control"] == "no-store", "a new build is picked up at the next load"
    asset = _get(client, "/build/assets/app-1a2b.js")
    assert (asset.status_code, asset.mimetype) == (200, "text/javascript")
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"  # hashed names
    assert asset.headers["X-Content-Type-Options"] == "nosniff"
    missing = client.get("/build/assets/gone-9z9z.js")
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "not_found")  # not the index
    for escape in ("/build/../secret.txt", "/build/%2e%2e/secret.txt", "/build/assets/..%2f..%2fsecret.txt"):
        answer = _get(client, escape)
        assert b"outside dist" not in answer.data, escape
    posted = client.post("/build/")
    assert (posted.status_code, posted.json["error"]["code"]) == (405, "method_not_allowed")


def test_before_the_frontend_is_built_build_is_a_page_saying_how_to_build_it(tmp_path: Path) -> None:
    page = _client(_services(tmp_path)).get("/build/")
    assert (page.status_code, page.mimetype) == (404, "text/html")
    text = page.get_data(as_text=True)
    assert "The /build frontend is not built yet" in text
    assert str(tmp_path / "dist" / "index.html") in text and "npm --prefix web run build" in text


def test_config_json_says_where_the_api_is_and_how_to_sign_in(tmp_path: Path) -> None:
    local = _client(_services(tmp_path)).get("/build/config.json", base_url="http://localhost:8080")
    assert local.status_code == 200 and local.headers["Cache-Control"] == "no-store"
    assert local.json == {
        "apiUrl": "http://localhost:8080",
        "devSignIn": True,
        "supabaseUrl": None,
        "supabaseAnonKey": None,
    }
    project = _services(
        tmp_path,
        jwt_secret=None,
        supabase_url="https://ref.supabase.co",
        supabase_jwks_url="https://ref.supabase.co/auth/v1/.well-known/jwks.json",
        supabase_anon_key="sb_publishable_abc",
    )
    assert _client(project).get("/build/config.json").json == {
        "apiUrl": "http://localhost",
        "devSignIn": False,  # a project's tokens: sign in with Supabase Auth
        "supabaseUrl": "https://ref.supabase.co",
        "supabaseAnonKey": "sb_publishable_abc",
    }


def test_the_development_sign_in_mints_a_token_the_api_accepts(tmp_path: Path) -> None:
    services = _services(tmp_path)
    client = _client(services)
    user = str(uuid.uuid4())
    minted = client.post("/dev/token", json={"userId": user}, base_url="http://127.0.0.1:8080")
    assert minted.status_code == 200, minted.json
    claims = jwt.decode(
        minted.json["accessToken"], LOCAL_JWT_SECRET, audience="authenticated", algorithms=["HS256"]
    )
    assert (claims["sub"], claims["role"]) == (user, "authenticated")
    assert minted.json["expiresAt"].endswith("Z") or minted.json["expiresAt"].endswith("+00:00")
    jobs = client.get("/api/agentic/jobs", headers={"Authorization": f"Bearer {minted.json['accessToken']}"})
    assert (jobs.status_code, jobs.json) == (200, {"jobs": []})

    for body in ({"userId": "not-a-uuid"}, {"userId": user, "role": "service_role"}, [user], {}):
        refused = client.post("/dev/token", json=body, base_url="http://127.0.0.1:8080")
        assert (refused.status_code, refused.json["error"]["code"]) == (400, "invalid_request"), body
    # A DNS-rebinding page reaches the stack under its own host name: no token for it.
    rebound = client.post("/dev/token", json={"userId": user}, base_url="http://evil.example:8080")
    assert (rebound.status_code, rebound.json["error"]["code"]) == (404, "not_found")
    assert client.get("/dev/token").status_code == 405


def test_no_development_sign_in_when_the_stack_verifies_a_projects_tokens(tmp_path: Path) -> None:
    client = _client(_services(tmp_path, jwt_secret="a-project-secret-of-at-least-32-characters"))
    refused = client.post("/dev/token", json={"userId": str(uuid.uuid4())})
    assert (refused.status_code, refused.json["error"]["code"]) == (404, "not_found")
    assert "sign in with Supabase Auth" in refused.json["error"]["message"]


@pytest.fixture
def installed(tmp_path: Path, built: Path) -> Iterator[Services]:
    services = _services(tmp_path)
    services_module.install(services)
    try:
        yield services
    finally:
        services_module.install(None)


@pytest.mark.parametrize("target", ["api", "status", "events"])
def test_the_cloud_targets_have_none_of_the_development_routes(target: str, installed: Services) -> None:
    client = functions_framework.create_app(target=target, source=FUNCTIONS).test_client()
    answers = [
        client.post("/dev/token", json={"userId": str(uuid.uuid4())}),
        client.get("/build/"),
        client.get("/build/config.json"),
    ]
    assert [(a.status_code, a.json["error"]["code"]) for a in answers] == [(404, "not_found")] * 3
    assert _get(_client(installed), "/build/").status_code == 200, "control: appgen dev serves it"
