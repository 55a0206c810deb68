"""Stylesheets no starter package provides: which the worker fetches, how their references are made
absolute, how the scaffold vendors a fetched one (and keeps a failed one as a runtime link with the reason),
and what the fetcher refuses. Every answer comes from an `httpx.MockTransport` and a table of addresses:
nothing here reaches the internet."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from appgen.pipeline import stylesheet_fetch
from appgen.pipeline.stylesheet_fetch import StylesheetFetcher, is_public
from appgen.scaffold import scaffold_workspace
from appgen.scaffold.vendor import (
    FetchedStylesheet,
    absolute_references,
    fetch_url,
    stylesheets_to_fetch,
    vendored_file,
)
from appgen.settings import REPO_ROOT
from appgen.spec import GenerationSpec
from tests.fixtures.specs import small_spec

STARTER = REPO_ROOT / "worker_container" / "starter"
THEME = "https://cdn.example.org/theme/1.2/css/theme.min.css"
PUBLIC_IP = "93.184.216.34"
ADDRESSES = {
    "cdn.example.org": [PUBLIC_IP],
    "assets.example.net": ["2606:2800:220:1::1"],
    "internal.example.org": ["10.0.0.5"],
    "metadata.example.org": ["169.254.169.254"],
    "loop.example.org": ["127.0.0.1"],
    "mapped.example.org": ["::ffff:127.0.0.1"],
    "mixed.example.org": [PUBLIC_IP, "192.168.1.1"],
}


def _resolve(host: str, port: int) -> list[str]:
    assert port == 443
    if host in ADDRESSES:
        return ADDRESSES[host]
    raise stylesheet_fetch.Refused(f"{host} does not resolve")


def _page(head: str, body: str = "<p>Hello</p>") -> str:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def _spec(*previews: str) -> GenerationSpec:
    raw = small_spec(pages=len(previews))
    for page, html in zip(raw["pages"], previews, strict=True):
        page["selectedPreviewHtml"] = html
    return GenerationSpec.model_validate(raw)


class Site:
    """A stand-in for the internet: (Host header, path) -> response; records each request it answered."""

    def __init__(self, routes: dict[tuple[str, str], httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.routes.get((request.headers["host"], request.url.path), httpx.Response(404))

    def fetcher(self, max_bytes: int = stylesheet_fetch.MAX_BYTES) -> StylesheetFetcher:
        return StylesheetFetcher(transport=httpx.MockTransport(self), resolve=_resolve, max_bytes=max_bytes)


def _css(text: str, kind: str = "text/css; charset=utf-8") -> httpx.Response:
    return httpx.Response(200, headers={"content-type": kind}, content=text.encode())


# -- what is fetched ----------------------------------------------------------------------------------
def test_only_stylesheets_no_starter_package_provides_are_fetched_once_each_in_order() -> None:
    first = _page(
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/css/bootstrap.min.css">'
        f'<link rel="stylesheet" href="{THEME}">'
        '<link rel="stylesheet" href="https://unpkg.com/tailwindcss@2.2.19/dist/tailwind.min.css">'
        '<link rel="icon" href="https://cdn.example.org/favicon.css">'
    )
    second = _page(
        '<link rel="stylesheet" href="//assets.example.net/site.css">',
        f'<link rel="stylesheet" href="{THEME}"><p>x</p>',
    )
    assert stylesheets_to_fetch(_spec(first, second).pages) == [THEME, "//assets.example.net/site.css"]


def test_only_https_urls_are_fetch_urls_and_protocol_relative_ones_mean_https() -> None:
    assert fetch_url(THEME) == THEME
    assert fetch_url("//assets.example.net/site.css") == "https://assets.example.net/site.css"
    assert fetch_url("http://cdn.example.org/a.css") is None
    assert fetch_url("css/local.css") is None
    assert fetch_url("file:///etc/passwd") is None


def test_relative_references_become_absolute_urls_of_where_the_stylesheet_came_from() -> None:
    css = (
        "@import 'parts/grid.css';\n"
        '@font-face { src: url(../fonts/a.woff2) format("woff2"), url("/b.woff") }\n'
        ".logo { background: url( 'img/logo.png' ) }\n"
        ".x { mask: url(#clip); background: url(data:image/png;base64,AAAA) }\n"
        ".y { background: url(https://img.example.com/y.png) }\n"
        ".z { background: url(//img.example.com/z.png) }\n"
    )
    out, origins = absolute_references(css, THEME)
    assert '@import "https://cdn.example.org/theme/1.2/css/parts/grid.css";' in out
    assert 'url("https://cdn.example.org/theme/1.2/fonts/a.woff2") format("woff2")' in out
    assert 'url("https://cdn.example.org/b.woff")' in out
    assert '.logo { background: url("https://cdn.example.org/theme/1.2/css/img/logo.png") }' in out
    assert "url(#clip)" in out and "url(data:image/png;base64,AAAA)" in out
    assert "url(https://img.example.com/y.png)" in out
    assert 'url("https://img.example.com/z.png")' in out
    assert origins == ("cdn.example.org", "img.example.com")


def test_a_vendored_file_is_named_by_its_content_and_the_urls_last_segment() -> None:
    copy = vendored_file(FetchedStylesheet(THEME, THEME, ".a{color:red}"))
    assert copy is not None
    assert copy.path.startswith("public/vendor/") and copy.path.endswith("-theme.min.css")
    assert copy.href == "/vendor/" + copy.path.removeprefix("public/vendor/")
    assert len(copy.path.removeprefix("public/vendor/").split("-")[0]) == 16
    odd = vendored_file(FetchedStylesheet("x", "https://cdn.example.org/css?family=A%20B", ".a{}"))
    assert odd is not None and odd.path.endswith("-css.css")
    assert vendored_file(FetchedStylesheet(THEME, reason="boom")) is None


# -- the scaffold ---------------------------------------------------------------------------------------
def test_a_fetched_stylesheet_is_vendored_under_public_and_linked_from_there(tmp_path: Path) -> None:
    html = _page(f'<link rel="stylesheet" href="{THEME}">', '<p class="brand">Hello</p>')
    fetched = {THEME: FetchedStylesheet(THEME, THEME, ".brand{background:url(bg.png)}")}
    result = scaffold_workspace(_spec(html), tmp_path / "ws", starter_dir=STARTER, stylesheets=fetched)
    assert [w.code for w in result.warnings] == []
    copy = result.vendored[THEME]
    assert (tmp_path / "ws" / copy.path).read_text() == (
        '.brand{background:url("https://cdn.example.org/theme/1.2/css/bg.png")}'
    )
    page = (tmp_path / "ws/components/home/Page.tsx").read_text()
    assert f'<link rel="stylesheet" href="{copy.href}" precedence="default" />' in page
    assert "eslint-disable-next-line @next/next/no-css-tags" in page
    assert THEME not in page


def test_a_stylesheet_that_could_not_be_fetched_stays_a_runtime_link_with_the_reason(tmp_path: Path) -> None:
    html = _page(f'<link rel="stylesheet" href="{THEME}">')
    fetched = {THEME: FetchedStylesheet(THEME, THEME, reason="https://cdn.example.org/… answered 404")}
    result = scaffold_workspace(_spec(html), tmp_path / "ws", starter_dir=STARTER, stylesheets=fetched)
    assert [(w.code, w.page_id) for w in result.warnings] == [("external_stylesheet", "home")]
    assert "fetching it failed: https://cdn.example.org/… answered 404" in result.warnings[0].message
    page = (tmp_path / "ws/components/home/Page.tsx").read_text()
    assert f'<link rel="stylesheet" href="{THEME}" precedence="default" />' in page
    assert "no-css-tags" not in page
    assert not (tmp_path / "ws/public/vendor").exists() and result.vendored == {}


def test_with_vendoring_off_the_warning_says_so(tmp_path: Path) -> None:
    result = scaffold_workspace(
        _spec(_page(f'<link rel="stylesheet" href="{THEME}">')), tmp_path / "ws", starter_dir=STARTER
    )
    assert [w.code for w in result.warnings] == ["external_stylesheet"]
    assert "stylesheet vendoring is off" in result.warnings[0].message


# -- the fetcher ---------------------------------------------------------------------------------------
def test_the_fetch_connects_to_the_checked_address_and_keeps_the_host_for_tls() -> None:
    site = Site({("cdn.example.org", "/theme/1.2/css/theme.min.css"): _css("\ufeff.a{color:red}")})
    got = site.fetcher().fetch_all([THEME])[THEME]
    assert (got.css, got.url, got.reason) == (".a{color:red}", THEME, "")
    (request,) = site.requests
    assert request.url.host == PUBLIC_IP and request.url.scheme == "https"
    assert request.headers["host"] == "cdn.example.org"
    assert request.extensions["sni_hostname"] == "cdn.example.org"
    assert "cookie" not in request.headers and "authorization" not in request.headers


def test_an_ipv6_host_and_a_plain_text_answer_are_fetched() -> None:
    site = Site({("assets.example.net", "/site.css"): _css(".b{}", "text/plain")})
    got = site.fetcher().fetch_all(["//assets.example.net/site.css"])["//assets.example.net/site.css"]
    assert got.css == ".b{}"
    assert site.requests[0].url.host == "2606:2800:220:1::1"


def test_a_redirect_is_followed_and_relative_references_resolve_against_where_it_led() -> None:
    site = Site(
        {
            ("cdn.example.org", "/theme/1.2/css/theme.min.css"): httpx.Response(
                302, headers={"location": "https://assets.example.net/v9/theme.css"}
            ),
            ("assets.example.net", "/v9/theme.css"): _css(".a{background:url(a.png)}"),
        }
    )
    got = site.fetcher().fetch_all([THEME])[THEME]
    assert got.url == "https://assets.example.net/v9/theme.css"
    copy = vendored_file(got)
    assert copy is not None and 'url("https://assets.example.net/v9/a.png")' in copy.css


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("internal.example.org", "10.0.0.5"),
        ("metadata.example.org", "169.254.169.254"),
        ("loop.example.org", "127.0.0.1"),
        ("mapped.example.org", "::ffff:127.0.0.1"),
        ("mixed.example.org", "192.168.1.1"),
    ],
)
def test_a_host_that_resolves_to_a_non_public_address_is_never_contacted(host: str, address: str) -> None:
    site = Site({})
    href = f"https://{host}/a.css"
    got = site.fetcher().fetch_all([href])[href]
    assert got.css is None and f"resolves to {address}, which is not a public address" in got.reason
    assert site.requests == []


@pytest.mark.parametrize(
    "href",
    ["https://127.0.0.1/a.css", "https://[::1]/a.css", "https://localhost/a.css", "https://10.1.2.3/a.css"],
)
def test_address_literals_and_localhost_are_refused_by_the_real_resolver(href: str) -> None:
    site = Site({})
    fetcher = StylesheetFetcher(transport=httpx.MockTransport(site))  # the real resolver: no network needed
    got = fetcher.fetch_all([href])[href]
    assert got.css is None and "not a public address" in got.reason
    assert site.requests == []


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://cdn.example.org/plain.css", "is not an https URL"),
        ("https://internal.example.org/a.css", "not a public address"),
        ("https://cdn.example.org:8443/a.css", "is not on port 443"),
    ],
)
def test_a_redirect_is_checked_like_the_first_request(location: str, reason: str) -> None:
    site = Site(
        {
            ("cdn.example.org", "/theme/1.2/css/theme.min.css"): httpx.Response(
                301, headers={"location": location}
            )
        }
    )
    got = site.fetcher().fetch_all([THEME])[THEME]
    assert got.css is None and reason in got.reason
    assert len(site.requests) == 1


def test_endless_redirects_stop() -> None:
    site = Site({("cdn.example.org", "/loop.css"): httpx.Response(302, headers={"location": "/loop.css"})})
    href = "https://cdn.example.org/loop.css"
    got = site.fetcher().fetch_all([href])[href]
    assert got.css is None and "more than 3 redirects" in got.reason
    assert len(site.requests) == 4


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(404), "answered 404"),
        (_css("<html>", "text/html"), "is text/html, not text/css"),
        (httpx.Response(200, content=b".a{}"), "is of no type, not text/css"),
        (_css("." + "a" * 2000), "larger than 1024 bytes"),
        (
            httpx.Response(
                200, headers={"content-type": "text/css", "content-length": "999999"}, content=b"x"
            ),
            "larger than 1024 bytes",
        ),
    ],
    ids=["404", "html", "no-type", "too-large-body", "too-large-declared"],
)
def test_answers_that_are_not_a_small_stylesheet_are_refused(response: httpx.Response, reason: str) -> None:
    site = Site({("cdn.example.org", "/theme/1.2/css/theme.min.css"): response})
    got = site.fetcher(max_bytes=1024).fetch_all([THEME])[THEME]
    assert got.css is None and reason in got.reason


def test_a_connection_error_is_a_reason_not_an_exception() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    fetcher = StylesheetFetcher(transport=httpx.MockTransport(down), resolve=_resolve)
    got = fetcher.fetch_all([THEME, "css/local.css", "https://nowhere.example.org/a.css"])
    assert got[THEME].css is None and got[THEME].reason.startswith("ConnectError: connection refused")
    assert got["css/local.css"].reason == "not an https URL"
    assert got["https://nowhere.example.org/a.css"].reason == "nowhere.example.org does not resolve"


def test_at_most_sixteen_stylesheets_are_fetched_per_job() -> None:
    hrefs = [f"https://cdn.example.org/{n}.css" for n in range(stylesheet_fetch.MAX_STYLESHEETS + 2)]
    site = Site({("cdn.example.org", f"/{n}.css"): _css(".a{}") for n in range(len(hrefs))})
    got = site.fetcher().fetch_all(hrefs)
    assert [g.css is not None for g in got.values()].count(True) == stylesheet_fetch.MAX_STYLESHEETS
    assert got[hrefs[-1]].reason == "more than 16 to fetch"


def test_public_addresses_are_only_global_unicast_ones() -> None:
    assert is_public(PUBLIC_IP) and is_public("2606:2800:220:1::1")
    for address in (
        "10.0.0.1",
        "172.16.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "fe80::1",
        "fd00::1",
        "x",
    ):
        assert not is_public(address), address


def test_the_deployed_worker_vendors_stylesheets_and_nothing_else_does() -> None:
    from appgen.settings import load_settings

    assert load_settings({}).vendor_stylesheets is False
    assert load_settings({"APPGEN_VENDOR_STYLESHEETS": "1"}).vendor_stylesheets is True
    golden = (REPO_ROOT / "tests/fixtures/deploy-dry-run.txt").read_text().splitlines()
    with_it = [line.split()[3] for line in golden if "APPGEN_VENDOR_STYLESHEETS=1" in line]
    assert with_it == ["agent-worker"], json.dumps(with_it)
