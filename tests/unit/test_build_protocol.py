"""The builder's answer as the worker reads it: a builder runs hostile code, so whatever it answers either
is exactly a `BuildResult` of the commands appgen runs, with bounded sizes, safe page paths and redacted
output, or becomes an `internal` step failure — never an exception of the parser, never a value passed on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from appgen.errors import StepFailed
from appgen.pipeline import build_protocol as protocol
from appgen.pipeline.builder import BUILD, INSTALL, LINT, BuildResult
from appgen.policy import ErrorCode
from appgen.redact import register_secret
from appgen.sandbox import CommandResult

WORKER_SECRET = "worker-secret-value-3141592653"
SANDBOX = "builder service test"


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


def _decode(answer: Any) -> BuildResult:
    body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    return protocol.decode_answer(b"\n\n\n" + body, SANDBOX)  # heartbeats first, as streamed


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
