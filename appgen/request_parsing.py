"""Reading a public request's input: the JSON body (its size, media type and nesting bounded before it is
parsed), path ids and query integers. Each refusal is a domain error naming what was wrong (400 with the
offending path, 413, 415, or 404 for an id that cannot be a job's)."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

import flask

from appgen import errors
from appgen.ids import parse_uuid

MAX_BODY_BYTES = 3 * 1024 * 1024
MAX_JSON_DEPTH = 64


def json_body(request: flask.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"the request body may be at most {MAX_BODY_BYTES} bytes")
    if request.mimetype != "application/json":
        raise errors.UnsupportedMediaType()
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"the request body may be at most {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise errors.InvalidRequest(
            f"the request body is not valid JSON: {exc}",
            details=[{"path": "(body)", "message": "invalid JSON"}],
        ) from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise errors.InvalidRequest(
            f"the request body nests deeper than {MAX_JSON_DEPTH} levels",
            details=[{"path": "(body)", "message": "nested too deeply"}],
        )
    return body


def _depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (iteratively: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend(
                    (child, level + 1) for child in (item.values() if isinstance(item, dict) else item)
                )
    return deepest


def path_job_id(params: dict[str, str]) -> UUID:
    job_id = parse_uuid(params["job_id"])
    if job_id is None:
        raise errors.NotFound()  # not a job id, so certainly not one of the caller's jobs
    return job_id


def query_uuid(value: str, path: str) -> UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise errors.InvalidRequest(
            f"{path} must be a UUID", details=[{"path": path, "message": "not a UUID"}]
        )
    return parsed


def query_int(request: flask.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not low <= int(raw) <= high:  # ASCII digits: \d takes any
        raise errors.InvalidRequest(
            f"{name} must be an integer from {low} to {high}",
            details=[{"path": f"query.{name}", "message": f"got {raw!r}"}],
        )
    return int(raw)
