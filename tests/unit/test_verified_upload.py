"""The shared upload check: an upload counts only when what the store holds matches the file in size and
SHA-256; failures are retried a bounded number of times, then the step fails transiently (and the
package step therefore never records an artifact without its object)."""

from __future__ import annotations

import pytest

from appgen import errors
from appgen.policy import ErrorCode
from appgen.storage import StoredObject, verified_upload

GOOD = StoredObject(10, "a" * 64)
SHORT = StoredObject(9, "b" * 64)


def run(answers: list[StoredObject | Exception], **kwargs: object) -> tuple[StoredObject, list[float], int]:
    pauses: list[float] = []
    calls = 0

    def attempt() -> StoredObject:
        nonlocal calls
        answer = answers[calls]
        calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = verified_upload(attempt, GOOD, sleep=pauses.append, **kwargs)  # type: ignore[arg-type]
    return result, pauses, calls


def test_a_good_first_upload_needs_no_retry() -> None:
    assert run([GOOD]) == (GOOD, [], 1)


def test_failures_then_success_return_the_verified_object() -> None:
    answer = run([SHORT, errors.DependencyUnavailable("store down"), GOOD])
    assert answer == (GOOD, [0.5, 2.0], 3)


def test_persistent_mismatch_fails_transiently_and_discards_the_wrong_object() -> None:
    discarded: list[bool] = []
    with pytest.raises(errors.StepFailed) as raised:
        run([SHORT, SHORT, SHORT], discard=lambda: discarded.append(True))
    assert raised.value.code == "storage_failed"
    assert raised.value.transient is True
    assert raised.value.message == (
        "the upload could not be verified after 3 attempts: the store holds 9 bytes with SHA-256 "
        "bbbbbbbbbbbb…, not 10 bytes with aaaaaaaaaaaa…"
    )
    assert discarded == [True]


def test_a_failed_discard_does_not_hide_the_upload_failure() -> None:
    def discard() -> None:
        raise errors.DependencyUnavailable("store down")

    with pytest.raises(errors.StepFailed, match="could not be verified"):
        run([SHORT, SHORT, SHORT], discard=discard)


def test_persistent_outage_fails_transiently_and_keeps_whatever_is_stored() -> None:
    discarded: list[bool] = []
    down = errors.DependencyUnavailable("Supabase Storage answered HTTP 503 during: upload a/b")
    with pytest.raises(errors.StepFailed) as raised:
        run([SHORT, down, down], discard=lambda: discarded.append(True))
    assert raised.value.transient is True
    assert raised.value.message.endswith(": Supabase Storage answered HTTP 503 during: upload a/b")
    assert discarded == []


def test_permanent_errors_are_not_retried() -> None:
    refused = errors.StepFailed("refused", code=ErrorCode.STORAGE_REFUSED)
    with pytest.raises(errors.StepFailed) as raised:
        run([refused, GOOD])
    assert raised.value is refused


def test_the_number_of_attempts_follows_the_pauses() -> None:
    with pytest.raises(errors.StepFailed, match="after 1 attempts"):
        run([SHORT], pauses=())
