"""The Functions Framework targets as the framework itself serves them (its own Flask app and routing)."""

from __future__ import annotations

import functions_framework
import pytest

from appgen.settings import REPO_ROOT

SOURCE = str(REPO_ROOT / "functions" / "main.py")


@pytest.mark.parametrize("target", ["api", "status", "logs"])
def test_paths_flask_cannot_route_still_get_a_json_404(target: str) -> None:
    client = functions_framework.create_app(target=target, source=SOURCE).test_client()
    response = client.get("/api/agentic/jobs/abc%0A/logs")
    assert response.status_code == 404
    assert response.content_type == "application/json"
    assert response.json == {"error": {"code": "not_found", "message": "no such route"}}
