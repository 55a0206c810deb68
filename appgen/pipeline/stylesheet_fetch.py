"""The scaffold step's one request to the internet on a tenant's behalf: the stylesheets its previews link
that no starter package provides, fetched so the scaffold can vendor them (`appgen/scaffold/vendor.py`).
On when `APPGEN_VENDOR_STYLESHEETS=1` (the cloud worker); `appgen dev` and the tests leave it off.

The tenant chooses the URLs, and the worker holds secrets and sits on a private network, so a fetch is
refused unless every hop is:

- `https` on port 443, to a host name or address that resolves only to public addresses (loopback,
  private, link-local, shared, multicast, reserved and unspecified ones are refused, IPv4-mapped IPv6
  included); the connection goes to the address that was checked (the host name is kept for TLS and the
  `Host` header), so a second DNS answer cannot send it elsewhere;
- at most `MAX_REDIRECTS` redirects, each checked the same way (a redirect to `http` is refused);
- answered 200 with `text/css` or `text/plain`, at most `MAX_BYTES` (decoded) within `TIMEOUT_S`.

No cookies, no credentials, no proxy from the environment. A refused or failed fetch is never an error of
the job: the stylesheet stays a runtime `<link>` and the `external_stylesheet` warning says why.

`transport` and `resolve` are injectable so tests answer from an `httpx.MockTransport` and a table of
addresses, never from the internet.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from appgen.scaffold.vendor import FetchedStylesheet, fetch_url

MAX_BYTES = 2 * 1024 * 1024
TIMEOUT_S = 10.0
MAX_REDIRECTS = 3
MAX_STYLESHEETS = 16  # per job: each may take TIMEOUT_S of the scaffold step
CONTENT_TYPES = frozenset({"text/css", "text/plain"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "appgen-stylesheet-fetch/1"

Resolver = Callable[[str, int], list[str]]  # (host, port) -> its IP addresses


class Refused(Exception):
    """The fetch was refused or failed; the message is the reason the job's warning gives."""


def resolve_host(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve ({exc.__class__.__name__})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class StylesheetFetcher:
    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        resolve: Resolver = resolve_host,
        timeout_s: float = TIMEOUT_S,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.transport = transport
        self.resolve = resolve
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def fetch_all(self, hrefs: Iterable[str]) -> dict[str, FetchedStylesheet]:
        """Each href's result (in order, at most MAX_STYLESHEETS fetched; the rest refused with a reason)."""
        results: dict[str, FetchedStylesheet] = {}
        with httpx.Client(
            transport=self.transport,
            timeout=httpx.Timeout(self.timeout_s),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept": "text/css,text/plain;q=0.5"},
        ) as client:
            for href in hrefs:
                if len(results) >= MAX_STYLESHEETS:
                    results[href] = FetchedStylesheet(href, reason=f"more than {MAX_STYLESHEETS} to fetch")
                    continue
                results[href] = self._fetch(client, href)
        return results

    def _fetch(self, client: httpx.Client, href: str) -> FetchedStylesheet:
        url = fetch_url(href)
        if url is None:
            return FetchedStylesheet(href, reason="not an https URL")
        deadline = time.monotonic() + self.timeout_s
        try:
            for _ in range(MAX_REDIRECTS + 1):
                css, redirect = self._get(client, url, deadline)
                if css is not None:
                    return FetchedStylesheet(href, url, css)
                url = redirect
            raise Refused(f"more than {MAX_REDIRECTS} redirects")
        except Refused as exc:
            return FetchedStylesheet(href, url, reason=str(exc)[:300])
        except httpx.HTTPError as exc:
            return FetchedStylesheet(href, url, reason=f"{exc.__class__.__name__}: {str(exc)[:200]}")

    def _get(self, client: httpx.Client, url: str, deadline: float) -> tuple[str | None, str]:
        """One hop: (the stylesheet, url), or (None, the URL a redirect points at)."""
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme != "https" or not host:
            raise Refused(f"{_short(url)} is not an https URL")
        if (parts.port or 443) != 443:
            raise Refused(f"{_short(url)} is not on port 443")
        address = self._public_address(host)
        netloc = f"[{address}]" if ":" in address else address
        pinned = urlunsplit(("https", netloc, parts.path or "/", parts.query, ""))
        request = client.build_request(
            "GET", pinned, headers={"Host": host}, extensions={"sni_hostname": host}
        )
        response = client.send(request, stream=True)
        try:
            if response.status_code in REDIRECTS:
                target = response.headers.get("location")
                if not target:
                    raise Refused(f"{_short(url)} redirected nowhere")
                return None, urljoin(url, target)
            if response.status_code != 200:
                raise Refused(f"{_short(url)} answered {response.status_code}")
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind not in CONTENT_TYPES:
                raise Refused(f"{_short(url)} is {kind or 'of no type'}, not text/css")
            return self._read(response, url, deadline), url
        finally:
            response.close()

    def _read(self, response: httpx.Response, url: str, deadline: float) -> str:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise Refused(f"{_short(url)} is larger than {self.max_bytes} bytes")
        body = bytearray()
        for chunk in response.iter_bytes():  # decoded: a compressed bomb stops at the cap too
            body += chunk
            if len(body) > self.max_bytes:
                raise Refused(f"{_short(url)} is larger than {self.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise Refused(f"{_short(url)} took longer than {self.timeout_s:.0f} s")
        return (
            bytes(body).decode(response.charset_encoding or "utf-8", errors="replace").removeprefix("\ufeff")
        )

    def _public_address(self, host: str) -> str:
        addresses = self.resolve(host, 443)
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for raw in addresses:
            if not is_public(raw):
                raise Refused(f"{host} resolves to {raw}, which is not a public address")
        return addresses[0]


def is_public(raw: str) -> bool:
    """A global unicast address (an IPv4-mapped IPv6 address is judged as its IPv4 one)."""
    try:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."
