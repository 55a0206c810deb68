"""A small client of the public API, used by the `appgen` CLI commands, the demo and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from appgen.errors import AppgenError


class ApiError(AppgenError):
    """The API answered with an error."""

    def __init__(self, status: int, body: dict[str, Any]):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(error.get("message") or f"HTTP {status}", details=error.get("details"))
        self.status = status
        self.code = error.get("code", "http_error")


class ApiClient:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **kwargs)
        body = _body(response)
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body

    def submit(self, spec: dict[str, Any], idempotency_key: str | None = None) -> str:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return str(self._request("POST", "/api/agentic/jobs", json=spec, headers=headers)["jobId"])

    def status(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/agentic/jobs/{job_id}")

    def list_jobs(self, project_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if project_id:
            params["projectId"] = project_id
        return list(self._request("GET", "/api/agentic/jobs", params=params)["jobs"])

    def logs(self, job_id: str, after: int = 0, limit: int = 100) -> dict[str, Any]:
        return self._request(
            "GET", f"/api/agentic/jobs/{job_id}/logs", params={"after": after, "limit": limit}
        )

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._request("POST", f"/api/agentic/jobs/{job_id}/cancel")

    def download_url(self, job_id: str) -> dict[str, Any]:
        return self._request("POST", f"/api/agentic/jobs/{job_id}/download")

    def download(self, job_id: str, dest: Path) -> Path:
        """Fetch the ZIP through a fresh signed URL (no Authorization header: the URL is the credential)."""
        url = self.download_url(job_id)["url"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        with httpx.stream("GET", url, timeout=120) as response:
            if response.status_code != 200:
                response.read()
                raise ApiError(response.status_code, _body(response))
            with dest.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        return dest

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()


def _body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an answer; `{}` for an empty or non-JSON one (a proxy's HTML error page)."""
    try:
        body = response.json() if response.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
