"""The builder's answer as the worker reads it: a builder runs hostile code, so whatever it answers either
is exactly a `BuildResult` of the commands appgen runs, with bounded sizes, safe page paths, redacted
output and PNG screenshots of only the pages asked for, or becomes an `internal` step failure — never an
exception of the parser, never a value passed on. And the render request the snapshot carries to the
builder, which takes it out of the workspace and refuses anything but its exact format."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from appgen.errors import StepFailed
from appgen.pipeline import build_protocol as protocol
from appgen.pipeline import render_request, snapshots
from appgen.pipeline.builder import BUILD, INSTALL, LINT, BuildResult
from appgen.policy import POLICY, ErrorCode
from appgen.redact import register_secret
from appgen.sandbox import CommandResult
from appgen.visual import render

WORKER_SECRET = "worker-secret-value-3141592653"
SANDBOX = "builder service test"
RENDERED = (render.RenderPage("home", "<h1>Home</h1>", "index.html"),)
PNG = render.PNG_SIGNATURE + b"pixels"
SHOT = render.shot_name("home", "desktop", "preview")


def _command(argv: tuple[str, ...], exit_code: int = 0, output: str = "ok") -> dict[str, Any]:
    return {"argv": list(argv), "exitCode": exit_code, "output": output, "durationS": 1.5}


def _answer(**changes: Any) -> dict[str, Any]:
    result = {
        "install": None,
        "build": _command(BUILD),
        "lint": _command(LINT),
        "pages": {"index.html": "<h1/>"},
    }
    return {"result": {**result, **changes}}


def _shots(**changes: Any) -> dict[str, Any]:
    """An answer with one screenshot and one reported missing, with `changes` to its result."""
    return _answer(
        **{"shots": {SHOT: _b64(PNG)}, "shotErrors": {"*": "the renderer exited with 1"}, **changes}
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _decode(answer: Any) -> BuildResult:
    body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    return protocol.decode_answer(b"\n\n\n" + body, SANDBOX, RENDERED)  # heartbeats first, as streamed


def test_a_result_goes_over_the_wire_and_back_unchanged() -> None:
    sent = BuildResult(
        CommandResult(INSTALL, 0, "added 300 packages", 20.25),
        CommandResult(BUILD, 0, "Compiled", 12.5),
        CommandResult(LINT, 1, "2 problems", 3.0),
        {"index.html": "<h1>Home</h1>", "about/team.html": "<h1>Team</h1>"},
        "sandbox: uid 65534",
    )
    received = _decode(json.loads(json.dumps(protocol.encode_result(sent))))
    assert received == BuildResult(sent.install, sent.build, sent.lint, sent.pages, SANDBOX)
    assert received.failed == sent.lint


def test_screenshots_go_over_the_wire_and_back_unchanged() -> None:
    names = sorted(render.shot_names(RENDERED))
    shots = render.Shots({name: PNG + name.encode() for name in names[:3]}, {names[3]: "timed out"})
    sent = BuildResult(None, CommandResult(BUILD, 0, "", 1.0), CommandResult(LINT, 0, "", 1.0), shots=shots)
    encoded = protocol.encode_result(sent)
    assert encoded["result"]["shots"] == {name: _b64(PNG + name.encode()) for name in names[:3]}
    received = _decode(json.loads(json.dumps(encoded)))
    assert received.shots == shots
    assert received == BuildResult(sent.install, sent.build, sent.lint, {}, SANDBOX, shots)


def test_an_answer_without_screenshots_is_the_answer_a_builder_always_sent() -> None:
    """A worker that sends no render request (an older one, during a deploy) reads what it always did."""
    encoded = protocol.encode_result(BuildResult(None, CommandResult(BUILD, 0, "", 1.0), None, {}))
    assert set(encoded["result"]) == {"install", "build", "lint", "pages"}
    assert _decode(encoded).shots == render.Shots()


def test_screenshots_beyond_the_answers_cap_are_left_out_by_the_builder_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = sorted(render.shot_names(RENDERED))
    monkeypatch.setattr(protocol, "MAX_SHOTS_BYTES", 2 * len(PNG) + 1)
    shots = render.Shots({name: PNG for name in names}, {"*": "x" * 5_000})
    encoded = protocol.encode_result(BuildResult(None, CommandResult(BUILD, 0, "", 1.0), shots=shots))
    assert sorted(encoded["result"]["shots"]) == names[:2]
    errors = encoded["result"]["shotErrors"]
    assert sorted(errors) == ["*", *names[2:]] and len(errors["*"]) < 600
    assert errors[names[2]] == "left out: an answer carries at most 0 MiB of screenshots"
    assert sorted(_decode(encoded).shots.images) == names[:2]


def test_screenshot_errors_are_redacted_and_trimmed_again_on_the_worker() -> None:
    register_secret(WORKER_SECRET)
    result = _decode(_answer(shotErrors={SHOT: f"chromium said {WORKER_SECRET} " + "z" * 900}))
    assert WORKER_SECRET not in result.shots.errors[SHOT] and "[REDACTED]" in result.shots.errors[SHOT]
    assert len(result.shots.errors[SHOT]) < 600


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (_shots(shots=[_b64(PNG)]), "`shots` or `shotErrors` is not an object"),
        (_shots(shotErrors="broken"), "`shots` or `shotErrors` is not an object"),
        (_shots(shots={"other@1280.preview.png": _b64(PNG)}), "which was not asked for"),
        (_shots(shots={"../../etc/x.png": _b64(PNG)}), "which was not asked for"),
        (_shots(shots={SHOT: 42}), "is not a string"),
        (_shots(shots={SHOT: "iVBORw0K!!"}), "is not base64"),
        (_shots(shots={SHOT: "iVBORw0KGgo"}), "is not base64"),  # no padding
        (_shots(shots={SHOT: "iVBORw0K\nGgo="}), "is not base64"),
        (_shots(shots={SHOT: _b64(b"GIF89a")}), "is not a PNG"),
        (_shots(shotErrors={"other@390.built.png": "x"}), "which was not asked for"),
        (_shots(shotErrors={SHOT: ["x"]}), "is not a short string"),
        (_shots(shotErrors={SHOT: "x" * 1001}), "is not a short string"),
        (_shots(build=_command(BUILD, 1), lint=None), "of a build that did not pass"),
        (_shots(lint=_command(LINT, 2)), "of a build that did not pass"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_screenshots_that_are_not_exactly_the_format_fail_the_whole_answer(answer: Any, reason: str) -> None:
    with pytest.raises(StepFailed) as raised:
        _decode(answer)
    assert raised.value.error_code == ErrorCode.INTERNAL
    assert raised.value.message.startswith("the builder's answer is not valid: ")
    assert reason in raised.value.message


@pytest.mark.parametrize("limit", ["MAX_PNG_BYTES", "MAX_SHOTS_BYTES"])
def test_screenshots_larger_than_the_limits_fail_the_whole_answer(
    monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    monkeypatch.setattr(render if limit == "MAX_PNG_BYTES" else protocol, limit, len(PNG) - 1)
    with pytest.raises(StepFailed, match=r"of at most|more than") as raised:
        _decode(_shots())
    assert raised.value.error_code == ErrorCode.INTERNAL


def test_stylesheet_classes_go_over_the_wire_only_to_a_worker_that_asks() -> None:
    sent = BuildResult(
        None,
        CommandResult(BUILD, 0, "", 1.0),
        None,
        {"index.html": "<p/>"},
        stylesheet_classes=frozenset({"b", "a"}),
    )
    asked = protocol.encode_result(sent, classes=True)
    assert asked["result"]["stylesheetClasses"] == ["a", "b"]
    assert _decode(asked).stylesheet_classes == frozenset({"a", "b"})
    plain = protocol.encode_result(sent)  # an older worker: the answer it knows, unchanged
    assert set(plain["result"]) == {"install", "build", "lint", "pages"}
    assert _decode(plain).stylesheet_classes is None  # an older builder: unknown, not "none"
    unknown = BuildResult(None, CommandResult(BUILD, 1, "", 1.0))
    assert protocol.encode_result(unknown, classes=True)["result"]["stylesheetClasses"] is None


def test_screenshots_and_stylesheet_classes_travel_together_in_one_answer() -> None:
    shots = render.Shots({SHOT: PNG}, {"*": "one width timed out"})
    passed = CommandResult(BUILD, 0, "", 1.0), CommandResult(LINT, 0, "", 1.0)
    sent = BuildResult(
        None, *passed, {"index.html": "<p/>"}, shots=shots, stylesheet_classes=frozenset({"a"})
    )
    encoded = protocol.encode_result(sent, classes=True)
    assert set(encoded["result"]) == {
        *protocol._COMMANDS,
        "pages",
        "shots",
        "shotErrors",
        "stylesheetClasses",
    }
    received = _decode(json.loads(json.dumps(encoded)))
    assert received == BuildResult(None, *passed, {"index.html": "<p/>"}, SANDBOX, shots, frozenset({"a"}))


def test_class_names_beyond_the_answers_room_for_them_are_sent_as_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The builder sends null rather than an answer the worker would refuse as too large."""
    monkeypatch.setattr(protocol, "MAX_CLASSES_BYTES", 20)
    fits = BuildResult(None, CommandResult(BUILD, 0, "", 1.0), stylesheet_classes=frozenset({"a", "b"}))
    assert protocol.encode_result(fits, classes=True)["result"]["stylesheetClasses"] == ["a", "b"]
    big = BuildResult(None, CommandResult(BUILD, 0, "", 1.0), stylesheet_classes=frozenset({"x" * 21}))
    assert protocol.encode_result(big, classes=True)["result"]["stylesheetClasses"] is None
    with pytest.raises(StepFailed, match="`stylesheetClasses` is not a list") as raised:
        _decode(_answer(stylesheetClasses=["x" * 11, "y" * 10]))
    assert raised.value.error_code == ErrorCode.INTERNAL


def test_output_is_redacted_and_trimmed_again_on_the_worker() -> None:
    register_secret(WORKER_SECRET)
    output = f"leaked {WORKER_SECRET}\n" + "x" * 20_000
    result = _decode(_answer(build=_command(BUILD, 1, output), lint=None))
    assert result.build is not None and WORKER_SECRET not in result.build.output
    assert "[REDACTED]" in result.build.output and len(result.build.output) < 12_100


def test_pages_beyond_the_limits_are_left_out_by_the_builder() -> None:
    pages = {f"p{n:03}.html": "x" for n in range(protocol.MAX_PAGES + 5)}
    encoded = protocol.encode_result(BuildResult(None, CommandResult(BUILD, 0, "", 1.0), None, pages))
    assert sorted(encoded["result"]["pages"]) == sorted(pages)[: protocol.MAX_PAGES]
    assert _decode(encoded).pages == encoded["result"]["pages"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"<html>502 Bad Gateway</html>", "it is not JSON"),
        (b'{"result": ' * 100_000, "it is not JSON"),
        (b'{"result": {"durationS": NaN}}', "it is not JSON"),
        ([_answer()], "not one object"),
        ({**_answer(), "extra": 1}, "not one object"),
        ({"result": {"build": _command(BUILD)}}, "does not hold exactly"),
        (_answer(install=_command(("sh", "-c", "curl evil")), build=None, lint=None), "not the command"),
        (_answer(build=_command(LINT)), "not the command"),
        (_answer(build={**_command(BUILD), "env": {}}), "not a command result"),
        (_answer(build={**_command(BUILD), "exitCode": True}), "not an exit code"),
        (_answer(build={**_command(BUILD), "exitCode": 10**9}), "not an exit code"),
        (_answer(build={**_command(BUILD), "exitCode": "0"}), "not an exit code"),
        (_answer(build={**_command(BUILD), "output": ["a"]}), "output"),
        (_answer(build={**_command(BUILD), "output": "x" * 30_000}), "output"),
        (_answer(build={**_command(BUILD), "durationS": -1}), "not a duration"),
        (
            json.dumps(_answer(build={**_command(BUILD), "durationS": 12345}))
            .replace("12345", "1e999")
            .encode(),
            "not a duration",
        ),
        (_answer(build=None), "after one that failed or did not run"),
        (_answer(install=_command(INSTALL, 1)), "after one that failed or did not run"),
        (_answer(pages=["index.html"]), "`pages` is not an object"),
        (_answer(pages={f"{n}.html": "" for n in range(protocol.MAX_PAGES + 1)}), "`pages` is not an object"),
        (_answer(pages={"../../etc/passwd.html": ""}), "not a relative path"),
        (_answer(pages={"/etc/hosts.html": ""}), "not a relative path"),
        (_answer(pages={"a//b.html": ""}), "not a relative path"),
        (_answer(pages={"a/./b.html": ""}), "not a relative path"),
        (_answer(pages={"index.js": ""}), "not a relative path"),
        (_answer(pages={"in\ndex.html": ""}), "not a relative path"),
        (_answer(pages={"index.html": 42}), "is not text"),
        (_answer(stylesheetClasses="a b"), "`stylesheetClasses` is not a list"),
        (_answer(stylesheetClasses=["a", 1]), "`stylesheetClasses` is not a list"),
        (
            _answer(stylesheetClasses=["x" * (protocol.MAX_CLASS_CHARS + 1)]),
            "`stylesheetClasses` is not a list",
        ),
        (_answer(stylesheetClasses=["a"] * (protocol.MAX_CLASSES + 1)), "`stylesheetClasses` is not a list"),
        (
            _answer(
                pages={
                    "a.html": "x" * (protocol.MAX_PAGES_CHARS // 2 + 1),
                    "b.html": "x" * (protocol.MAX_PAGES_CHARS // 2),
                }
            ),
            "more than",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_an_answer_that_is_not_exactly_the_format_is_an_internal_failure(answer: Any, reason: str) -> None:
    with pytest.raises(StepFailed) as raised:
        _decode(answer)
    assert raised.value.error_code == ErrorCode.INTERNAL
    assert raised.value.message.startswith("the builder's answer is not valid: ")
    assert reason in raised.value.message


def test_an_oversized_answer_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(StepFailed, match="larger than") as raised:
        protocol.decode_answer(b" " * (protocol.MAX_ANSWER_BYTES + 1), SANDBOX)
    assert raised.value.error_code == ErrorCode.INTERNAL


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("command_timeout", ErrorCode.COMMAND_TIMEOUT),
        ("timeout", ErrorCode.TIMEOUT),
        ("internal", ErrorCode.INTERNAL),
        ("build_failed", ErrorCode.INTERNAL),  # not a failure a builder may report
        ("storage_refused", ErrorCode.INTERNAL),
        (["timeout"], ErrorCode.INTERNAL),
    ],
)
def test_a_reported_failure_keeps_only_codes_a_builder_may_report(code: Any, expected: ErrorCode) -> None:
    register_secret(WORKER_SECRET)
    with pytest.raises(StepFailed) as raised:
        _decode({"error": {"code": code, "message": f"npm run build timed out {WORKER_SECRET}" + "y" * 5000}})
    assert raised.value.error_code == expected
    assert raised.value.message.startswith("the builder: npm run build timed out [REDACTED]")
    assert len(raised.value.message) < 2_100


def test_the_builder_reports_its_own_failures_with_codes_the_worker_keeps() -> None:
    timed_out = protocol.encode_error(
        StepFailed("`npm run build` did not finish", code=ErrorCode.COMMAND_TIMEOUT)
    )
    assert timed_out == {"error": {"code": "command_timeout", "message": "`npm run build` did not finish"}}
    other = protocol.encode_error(StepFailed("the job was cancelled", code=ErrorCode.CANCELLED))
    assert other["error"]["code"] == "internal"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("120", 120.0), ("0.5", 0.5), ("99999", protocol.MAX_BUDGET_S), (None, None), ("", None), ("0", None),
     ("-3", None), ("nan", None), ("inf", None), ("ten", None)],
)  # fmt: skip
def test_the_budget_a_request_carries_is_a_positive_capped_number_of_seconds(
    raw: str | None, expected: float | None
) -> None:
    assert protocol.budget_seconds(raw) == expected


def _unpacked(ws: Path, tmp: Path, rendered: tuple[render.RenderPage, ...]) -> Path:
    """`ws` packed as the worker sends it and unpacked as the builder does."""
    archive = render_request.pack_snapshot(ws, tmp / "snapshot.tar.gz", rendered)
    snapshots.unpack(archive, tmp / "unpacked")
    return tmp / "unpacked"


def test_the_render_request_travels_in_the_snapshot_and_leaves_before_the_build(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "app").mkdir(parents=True)
    (ws / "app" / "page.tsx").write_text("export default function Page() { return null; }\n")
    (ws / render_request.RENDER_MEMBER).write_text(
        '{"pages": [{"name": "planted", "preview": "", "built": null}]}'
    )
    rendered = (*RENDERED, render.RenderPage("about-us", "<p>Über uns \u2603</p>", "about/us.html"))

    received = _unpacked(ws, tmp_path, rendered)

    assert render_request.take_render_request(received) == rendered  # the worker's, not the agent's
    assert snapshots.workspace_files(received) == ["app/page.tsx"]
    assert render_request.take_render_request(received) == ()  # gone: the build never sees it


def test_a_snapshot_without_pages_to_render_carries_no_render_request(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "package.json").write_text("{}")
    received = _unpacked(ws, tmp_path, ())
    assert snapshots.workspace_files(received) == ["package.json"]
    assert render_request.take_render_request(received) == ()


def test_the_largest_previews_a_spec_may_hold_fit_the_render_request(tmp_path: Path) -> None:
    """Even previews of control characters only, each six bytes in JSON, at the policy's total."""
    (tmp_path / "ws").mkdir()
    each = POLICY.max_total_preview_html_bytes // POLICY.max_pages
    rendered = tuple(render.RenderPage(f"p{n}", "\x01" * each, f"p{n}.html") for n in range(POLICY.max_pages))
    received = _unpacked(tmp_path / "ws", tmp_path, rendered)
    assert render_request.take_render_request(received) == rendered


def test_a_render_request_too_large_to_send_is_an_internal_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_request, "MAX_RENDER_BYTES", 100)
    (tmp_path / "ws").mkdir()
    with pytest.raises(StepFailed, match="max_total_preview_html_bytes") as raised:
        render_request.pack_snapshot(
            tmp_path / "ws", tmp_path / "s.tar.gz", (render.RenderPage("a", "x" * 100),)
        )
    assert raised.value.error_code == ErrorCode.INTERNAL


def _page(**changes: Any) -> dict[str, Any]:
    return {"name": "home", "preview": "<h1/>", "built": "index.html", **changes}


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (b"not json", "is not JSON"),
        (b'{"pages": [' * 100_000, "is not JSON"),
        ([_page()], "is not an object of at most"),
        ({"pages": [_page()], "more": 1}, "is not an object of at most"),
        ({"pages": {"home": _page()}}, "is not an object of at most"),
        (
            {"pages": [_page(name=f"p{n}") for n in range(protocol.MAX_PAGES + 1)]},
            "is not an object of at most",
        ),
        ({"pages": [_page(), _page()]}, "names a page twice"),
        ({"pages": ["home"]}, "is not exactly name, preview and built"),
        ({"pages": [{**_page(), "script": "x"}]}, "is not exactly name, preview and built"),
        ({"pages": [_page(name="../home")]}, "is not a page id"),
        ({"pages": [_page(name=7)]}, "is not a page id"),
        ({"pages": [_page(preview=["x"])]}, "is not text"),
        ({"pages": [_page(built="../../etc/passwd.html")]}, "is not a relative path"),
        ({"pages": [_page(built="/etc/hosts.html")]}, "is not a relative path"),
        ({"pages": [_page(built="index.js")]}, "is not a relative path"),
        ({"pages": [_page(built=3)]}, "is not a relative path"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_render_request_that_is_not_exactly_the_format_is_refused(
    tmp_path: Path, request_: Any, reason: str
) -> None:
    member = tmp_path / render_request.RENDER_MEMBER
    member.write_bytes(request_ if isinstance(request_, bytes) else json.dumps(request_).encode())
    with pytest.raises(ValueError) as raised:
        render_request.take_render_request(tmp_path)
    assert reason in str(raised.value)


@pytest.mark.parametrize("kind", ["directory", "too-large"])
def test_a_render_request_that_is_no_small_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    member = tmp_path / render_request.RENDER_MEMBER
    if kind == "directory":
        member.mkdir()
    else:
        monkeypatch.setattr(render_request, "MAX_RENDER_BYTES", 10)
        member.write_text(json.dumps({"pages": []}))
    with pytest.raises(ValueError, match="is not a file of at most"):
        render_request.take_render_request(tmp_path)
