"""The builder service's wire format, written once for both sides (`remote_builder.py` sends and reads,
`appgen/builder_service.py` receives and answers).

Request: `POST /build`, `Authorization: Bearer <Google ID token of the worker's service account>`,
`Content-Type: application/gzip`, `X-Appgen-Budget-Seconds: <seconds the build may take>`, optionally
`X-Appgen-Stylesheet-Classes: 1`, body = the workspace snapshot (`snapshots.pack`: no node_modules, no
.next), at most `MAX_SNAPSHOT_BYTES`. When the build is to screenshot pages (`BuildRequest.render`), the
snapshot carries them as its reserved member `render_request.RENDER_MEMBER` (an agent-written file of that name is left
out), at most `render_request.MAX_RENDER_BYTES`:

    {"pages": [{"name": "home", "preview": "<!doctype html>…"|null, "built": "index.html"|null}]}

The builder takes it out of the workspace before the build starts (the build never sees it).

Answer: what is checked before the build starts gets its own status and an error body, as every appgen
endpoint answers (`{"error": {"code", "message"}}`): 401/403 caller, 404/405 path and method, 400 bad
budget, render request or `unsafe_archive`, 413 too large, 409 a workspace of another starter, 429 busy.
Then 200, and the body is streamed: one `HEARTBEAT` byte every `HEARTBEAT_S` while the build runs (so the
caller can give up, and the builder notices when it does), then one JSON object, either

    {"result": {"install": CMD|null, "build": CMD|null, "lint": CMD|null, "pages": {"index.html": "…"},
                "shots": {"home@1280.preview.png": "<base64 PNG>"}, "shotErrors": {"home@390.built.png": "…"},
                "stylesheetClasses": ["flex", …]|null}}
    {"error": {"code": "command_timeout"|"timeout"|"internal", "message": "…"}}

with CMD = {"argv": [...], "exitCode": int, "output": str, "durationS": number}. The last fields are optional,
so a worker and a builder of different versions keep understanding each other during a deploy:
- `shots` and `shotErrors` (what `render.render` took, and why a shot is missing; `*` for all) come only
  when there is one (so a worker that sends no render request reads the answer it always did), and only
  after a passing build and lint. Screenshots beyond `MAX_SHOTS_BYTES` in all are left out by the
  builder, each with a `shotErrors` entry.
- `stylesheetClasses` comes only to a request with the stylesheet header: the class names
  the compiled CSS defines (see `unstyled.py`), null when they do not fit in `MAX_CLASSES` names and
  `MAX_CLASSES_BYTES` of JSON.
The answer is streamed (chunked), so Cloud Run's 32 MiB limit of HTTP/1 responses does not apply.

The builder runs hostile code, so the worker trusts nothing of the answer: `decode_answer` accepts only
this shape, the three known commands, bounded sizes and page paths, screenshots only under the names the
request asked for, each a PNG in strict base64 of at most `render.MAX_PNG_BYTES`, class names only as a
bounded list of bounded strings, and redacts and trims the output and shot errors again; anything else is
an internal error for the whole answer (a builder that breaks the format is broken or subverted, so none
of its figures is taken), never an exception of the parser or a value passed on.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from appgen.errors import StepFailed
from appgen.pipeline.builder import BUILD, BUILD_TIMEOUT_S, INSTALL, LINT, LINT_TIMEOUT_S, BuildResult
from appgen.policy import ErrorCode
from appgen.redact import redact
from appgen.sandbox import MAX_OUTPUT_CHARS, CommandResult, trim_output
from appgen.visual import render

PATH = "/build"
CONTENT_TYPE = "application/gzip"
BUDGET_HEADER = "X-Appgen-Budget-Seconds"
CLASSES_HEADER = "X-Appgen-Stylesheet-Classes"
# Cloud Run refuses HTTP/1 requests above 32 MiB; a workspace's source is far below (no node_modules).
MAX_SNAPSHOT_BYTES = 30 * 1024 * 1024
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 50_000
MAX_BUDGET_S = BUILD_TIMEOUT_S + LINT_TIMEOUT_S + render.RENDER_TIMEOUT_S  # the builder never installs
HEARTBEAT = b"\n"
HEARTBEAT_S = 2.0
MAX_PAGES = 100
MAX_PAGES_CHARS = 16 * 1024 * 1024
MAX_PAGE_PATH_CHARS = 300
MAX_SHOTS_BYTES = 64 * 1024 * 1024  # PNG bytes of one answer: 20 pages x 2 widths x 2 sides at 800 KB
MAX_SHOT_ERROR_CHARS = 500
MAX_MESSAGE_CHARS = 2_000
MAX_CLASSES = 100_000
MAX_CLASS_CHARS = 300
MAX_CLASSES_BYTES = 4 * 1024 * 1024  # the class list as JSON: a CSS framework defines a few thousand
# pages, three outputs and JSON's escapes; the screenshots in base64; their names and errors; the classes
MAX_ANSWER_BYTES = 24 * 1024 * 1024 + 4 * (MAX_SHOTS_BYTES // 3 + 1) + 1024 * 1024 + MAX_CLASSES_BYTES
MAX_DURATION_S = 24 * 3600.0
# The only failures a builder may report; any other code becomes `internal`.
BUILDER_ERRORS = frozenset({ErrorCode.COMMAND_TIMEOUT, ErrorCode.TIMEOUT, ErrorCode.INTERNAL})
_COMMANDS = {"install": INSTALL, "build": BUILD, "lint": LINT}
_RESULT = ("pages", "shots", "shotErrors", "stylesheetClasses")


def encode_result(result: BuildResult, *, classes: bool = False) -> dict[str, Any]:
    """The answer for a finished build; pages beyond the answer's limits are left out (path order).
    `classes`: the caller asked for the stylesheets' class names (within the answer's limits, else null)."""
    pages: dict[str, str] = {}
    total = 0
    for path, html in sorted(result.pages.items()):
        if len(pages) == MAX_PAGES or total + len(html) > MAX_PAGES_CHARS:
            break
        pages[path] = html
        total += len(html)
    commands = {slot: _encode_command(getattr(result, slot)) for slot in _COMMANDS}
    answer: dict[str, Any] = {**commands, "pages": pages, **_encode_shots(result.shots)}
    if classes:
        answer["stylesheetClasses"] = _encode_classes(result.stylesheet_classes)
    return {"result": answer}


def encode_error(exc: StepFailed) -> dict[str, Any]:
    code = exc.error_code if exc.error_code in BUILDER_ERRORS else ErrorCode.INTERNAL
    return {"error": {"code": str(code), "message": trim_output(exc.message, MAX_MESSAGE_CHARS)}}


def decode_answer(body: bytes, sandbox: str, rendered: Sequence[render.RenderPage] = ()) -> BuildResult:
    """The `BuildResult` of a builder's 200 answer (heartbeats included) to a request that asked for
    screenshots of `rendered`; StepFailed for a failure it reported, and `internal` for anything that is
    not exactly the format above."""
    if len(body) > MAX_ANSWER_BYTES:
        raise _invalid(f"it is larger than {MAX_ANSWER_BYTES} bytes")
    try:
        answer = json.loads(body, parse_constant=no_constant)
    except (ValueError, RecursionError) as exc:
        raise _invalid(f"it is not JSON ({type(exc).__name__})") from None
    if not isinstance(answer, dict) or len(answer) != 1:
        raise _invalid("it is not one object with `result` or `error`")
    if "error" in answer:
        raise remote_failure(answer["error"])
    result = answer.get("result")
    if not isinstance(result, dict) or not {*_COMMANDS, "pages"} <= set(result) <= {*_COMMANDS, *_RESULT}:
        raise _invalid("`result` does not hold exactly install, build, lint, pages and maybe shots, classes")
    install, build, lint = (_decode_command(slot, result[slot]) for slot in _COMMANDS)
    if (install is not None and not install.ok and build is not None) or (build is None and lint is not None):
        raise _invalid("it ran a command after one that failed or did not run")
    passed = build is not None and build.ok and (lint is None or lint.ok)
    shots = _decode_shots(result.get("shots", {}), result.get("shotErrors", {}), rendered, passed)
    classes = _decode_classes(result.get("stylesheetClasses"))
    return BuildResult(install, build, lint, _decode_pages(result["pages"]), sandbox, shots, classes)


def remote_failure(error: object, default: ErrorCode = ErrorCode.INTERNAL) -> StepFailed:
    """A failure the builder reported (`{"code", "message"}`): its code if it is one a builder may
    report, else `default`; the message redacted and trimmed."""
    code, message = default, "the builder failed without saying why"
    if isinstance(error, dict):
        if isinstance(error.get("message"), str):
            message = trim_output(error["message"], MAX_MESSAGE_CHARS)
        reported = error.get("code")
        if isinstance(reported, str) and reported in BUILDER_ERRORS:
            code = ErrorCode(reported)
    return StepFailed(f"the builder: {message}", code=code)


def _encode_command(result: CommandResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "argv": list(result.argv),
        "exitCode": result.exit_code,
        "output": result.output,
        "durationS": round(result.duration_s, 3),
    }


def _decode_command(slot: str, value: object) -> CommandResult | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"argv", "exitCode", "output", "durationS"}:
        raise _invalid(f"`{slot}` is not a command result")
    if value["argv"] != list(_COMMANDS[slot]):
        raise _invalid(f"`{slot}` is not the command appgen runs there")
    exit_code, output, duration = value["exitCode"], value["output"], value["durationS"]
    if type(exit_code) is not int or not -1024 <= exit_code <= 1024:
        raise _invalid(f"`{slot}.exitCode` is not an exit code")
    if not isinstance(output, str) or len(output) > 2 * MAX_OUTPUT_CHARS:
        raise _invalid(f"`{slot}.output` is not a string of at most {2 * MAX_OUTPUT_CHARS} characters")
    if type(duration) not in (int, float) or not 0 <= duration <= MAX_DURATION_S:
        raise _invalid(f"`{slot}.durationS` is not a duration")
    return CommandResult(_COMMANDS[slot], exit_code, trim_output(output), float(duration))


def _decode_pages(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_PAGES:
        raise _invalid(f"`pages` is not an object of at most {MAX_PAGES} pages")
    total = 0
    for path, html in value.items():
        if not is_page_path(path):
            raise _invalid(f"the page path {redact(path[:80])!r} is not a relative path of an .html file")
        if not isinstance(html, str):
            raise _invalid(f"the page {path!r} is not text")
        total += len(html)
    if total > MAX_PAGES_CHARS:
        raise _invalid(f"its pages hold more than {MAX_PAGES_CHARS} characters")
    return dict(value)


def is_page_path(path: str) -> bool:
    """A relative path of an .html file under `.next/server/app`, with nothing to resolve."""
    parts = PurePosixPath(path).parts
    return (
        len(path) <= MAX_PAGE_PATH_CHARS
        and path.endswith(".html")
        and path.isprintable()
        and not path.startswith("/")
        and not any(part in ("..", ".") for part in parts)
        and "/".join(parts) == path
    )


def _encode_shots(shots: render.Shots) -> dict[str, Any]:
    """The screenshots in base64 (name order) up to `MAX_SHOTS_BYTES`, the rest left out with a reason;
    nothing at all when there is nothing to say."""
    if not shots.images and not shots.errors:
        return {}
    errors = {name: trim_output(message, MAX_SHOT_ERROR_CHARS) for name, message in shots.errors.items()}
    images: dict[str, str] = {}
    total = 0
    for name, png in sorted(shots.images.items()):
        if total + len(png) > MAX_SHOTS_BYTES:
            errors[name] = (
                f"left out: an answer carries at most {MAX_SHOTS_BYTES // 2**20} MiB of screenshots"
            )
            continue
        images[name] = base64.b64encode(png).decode("ascii")
        total += len(png)
    return {"shots": images, "shotErrors": errors}


def _decode_shots(
    images: object, errors: object, rendered: Sequence[render.RenderPage], passed: bool
) -> render.Shots:
    if not isinstance(images, dict) or not isinstance(errors, dict):
        raise _invalid("`shots` or `shotErrors` is not an object")
    if (images or errors) and not passed:
        raise _invalid("it sent screenshots of a build that did not pass")
    expected = render.shot_names(rendered)
    decoded: dict[str, bytes] = {}
    total = 0
    for name, data in images.items():
        if name not in expected:
            raise _invalid(f"it sent the screenshot {redact(name[:80])!r}, which was not asked for")
        if not isinstance(data, str) or len(data) > 4 * (render.MAX_PNG_BYTES // 3 + 1):
            raise _invalid(f"the screenshot {name!r} is not a string of at most {render.MAX_PNG_BYTES} bytes")
        try:
            png = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(f"the screenshot {name!r} is not base64") from None
        if len(png) > render.MAX_PNG_BYTES or not png.startswith(render.PNG_SIGNATURE):
            raise _invalid(f"the screenshot {name!r} is not a PNG of at most {render.MAX_PNG_BYTES} bytes")
        decoded[name] = png
        total += len(png)
    if total > MAX_SHOTS_BYTES:
        raise _invalid(f"its screenshots hold more than {MAX_SHOTS_BYTES} bytes")
    reasons: dict[str, str] = {}
    for name, message in errors.items():
        if name not in expected and name != "*":
            raise _invalid(f"it reported the screenshot {redact(name[:80])!r}, which was not asked for")
        if not isinstance(message, str) or len(message) > 2 * MAX_SHOT_ERROR_CHARS:
            raise _invalid(f"the error of the screenshot {name!r} is not a short string")
        reasons[name] = trim_output(message, MAX_SHOT_ERROR_CHARS)
    return render.Shots(decoded, reasons)


def _encode_classes(classes: frozenset[str] | None) -> list[str] | None:
    """The class names in order, or None when unknown or beyond the answer's limits."""
    names = sorted(n for n in classes or () if len(n) <= MAX_CLASS_CHARS)
    if classes is None or len(names) > MAX_CLASSES or len(json.dumps(names)) > MAX_CLASSES_BYTES:
        return None
    return names


def _decode_classes(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_CLASSES
        or not all(isinstance(n, str) and 0 < len(n) <= MAX_CLASS_CHARS for n in value)
        or sum(len(n) for n in value) > MAX_CLASSES_BYTES
    ):
        raise _invalid(f"`stylesheetClasses` is not a list of at most {MAX_CLASSES} class names")
    return frozenset(value)


def no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _invalid(reason: str) -> StepFailed:
    return StepFailed(f"the builder's answer is not valid: {reason}", code=ErrorCode.INTERNAL)


def budget_seconds(raw: str | None) -> float | None:
    """The budget a request carries, or None when it is not a positive number of seconds; capped at
    what one build may take."""
    try:
        value = float(raw or "")
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return min(value, MAX_BUDGET_S)
