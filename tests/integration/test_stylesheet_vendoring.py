"""Stylesheet vendoring through the real worker chain's scaffold step and a real database: with
`APPGEN_VENDOR_STYLESHEETS` on, a preview's stylesheet from a public CDN lands in the scaffold snapshot
under `public/vendor/` and the page links that copy, while one whose host resolves to a private address is
never contacted and stays a runtime link with the `external_stylesheet` warning saying why. The internet
is an `httpx.MockTransport` and a table of addresses: nothing leaves the machine."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from appgen import jobs, worker
from appgen.dispatch import InMemoryDispatcher
from appgen.gateway import Caller, ControlPlane
from appgen.pipeline import snapshots
from appgen.pipeline.stylesheet_fetch import StylesheetFetcher
from appgen.scaffold.vendor import read_vendored
from appgen.services import Services
from appgen.storage import SCRATCH_BUCKET
from tests.fixtures.specs import small_spec
from tests.integration.apitest import make_services

THEME = "https://cdn.example.org/theme/css/theme.css"
PRIVATE = "https://intranet.example.org/private.css"
PREVIEW = (
    "<!doctype html><html><head><title>Home</title>"
    f'<link rel="stylesheet" href="{THEME}"><link rel="stylesheet" href="{PRIVATE}">'
    '</head><body><h1 class="hero">Welcome</h1></body></html>'
)
ADDRESSES = {"cdn.example.org": ["93.184.216.34"], "intranet.example.org": ["10.20.0.7"]}


@pytest.fixture
def requests_seen() -> list[httpx.Request]:
    return []


@pytest.fixture
def services(control_plane: ControlPlane, tmp_path: Path, requests_seen: list[httpx.Request]) -> Services:
    def cdn(request: httpx.Request) -> httpx.Response:
        requests_seen.append(request)
        if (request.headers["host"], request.url.path) == ("cdn.example.org", "/theme/css/theme.css"):
            body = b".hero{font-family:Brand;background:url(../img/hero.jpg)}"
            return httpx.Response(200, headers={"content-type": "text/css"}, content=body)
        return httpx.Response(404)

    built = make_services(control_plane, tmp_path, work_dir=tmp_path / "work", vendor_stylesheets=True)
    built._stylesheet_fetcher = StylesheetFetcher(
        transport=httpx.MockTransport(cdn), resolve=lambda host, _port: ADDRESSES[host]
    )
    return built


def test_the_scaffold_step_vendors_a_cdn_stylesheet_and_refuses_a_private_one(
    services: Services,
    control_plane: ControlPlane,
    alice: Caller,
    tmp_path: Path,
    requests_seen: list[httpx.Request],
) -> None:
    spec = small_spec(pages=1)
    spec["pages"][0]["selectedPreviewHtml"] = PREVIEW
    job_id, _ = control_plane.submit_job(alice, spec, None)
    jobs.start(services, job_id)
    dispatcher = services.dispatcher
    assert isinstance(dispatcher, InMemoryDispatcher)
    (scaffold,) = [m for m in dispatcher.messages if m.payload.get("kind") == "scaffold"]

    assert worker.run_task(scaffold.payload["taskId"], services) == "succeeded"

    # Only the public host was contacted, at the address that was checked.
    assert [(r.headers["host"], r.url.host) for r in requests_seen] == [("cdn.example.org", "93.184.216.34")]
    archive = tmp_path / "scaffold.tar.gz"
    services.scratch.download(SCRATCH_BUCKET, snapshots.scratch_key(job_id, snapshots.SCAFFOLD), archive)
    ws = tmp_path / "ws"
    files = snapshots.unpack(archive, ws)
    (vendored,) = [f for f in files if f.startswith("public/vendor/")]
    assert vendored.endswith("-theme.css")
    assert (ws / vendored).read_text() == (
        '.hero{font-family:Brand;background:url("https://cdn.example.org/theme/img/hero.jpg")}'
    )
    page = (ws / "components/home/Page.tsx").read_text()
    assert f'href="/{vendored.removeprefix("public/")}"' in page
    assert f'href="{PRIVATE}"' in page and THEME not in page
    # the manifest the validate step reads back to inline the copy into the preview it screenshots
    assert read_vendored(ws) == {THEME: (ws / vendored).read_text()}

    job = control_plane.get_job(alice, job_id)
    assert job["status"] == "running", job
    assert [w["code"] for w in job["warnings"]] == ["external_stylesheet"]
    message = job["warnings"][0]["message"]
    assert PRIVATE in message and "resolves to 10.20.0.7, which is not a public address" in message
    logs = [row["message"] for row in control_plane.list_job_logs(alice, job_id, 0, 100)]
    assert any(f"vendored the stylesheet {THEME} as {vendored}" in line for line in logs), logs
    assert "fetched 1 of 2 linked stylesheet(s) no starter package provides" in logs
