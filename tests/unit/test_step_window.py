"""Every step fits one Cloud Tasks delivery: the validate step's worst case (install + build + lint at
their limits) and each agent's limit fit the step window, which leaves margin within the 30-minute
dispatch deadline; and a step's commands never get more time than is left of its window."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import pytest

from appgen.dispatch import DISPATCH_DEADLINE_SECONDS
from appgen.errors import StepFailed
from appgen.pipeline.builder import BUILD_TIMEOUT_S, INSTALL_TIMEOUT_S, LINT_TIMEOUT_S
from appgen.pipeline.context import STEP_WINDOW_SECONDS, StepContext
from appgen.pipeline.steps import FIX_TIMEOUT_S, INTEGRATION_TIMEOUT_S
from appgen.policy import ErrorCode
from tests.fixtures.tasks import validate_task


def _context(started_ago_s: float) -> StepContext:
    task = validate_task()
    none = cast(Any, None)
    return StepContext(task, none, none, Path("/nonexistent"), _started=time.monotonic() - started_ago_s)


def test_the_worst_case_of_each_step_fits_the_window_with_margin_for_its_deadline() -> None:
    assert INSTALL_TIMEOUT_S + BUILD_TIMEOUT_S + LINT_TIMEOUT_S <= STEP_WINDOW_SECONDS
    assert max(INTEGRATION_TIMEOUT_S, FIX_TIMEOUT_S) <= STEP_WINDOW_SECONDS
    assert DISPATCH_DEADLINE_SECONDS - STEP_WINDOW_SECONDS >= 5 * 60


def test_a_command_gets_at_most_what_is_left_of_the_window() -> None:
    assert _context(0).budget(LINT_TIMEOUT_S) == LINT_TIMEOUT_S
    assert _context(STEP_WINDOW_SECONDS - 100).budget(LINT_TIMEOUT_S) == pytest.approx(100, abs=5)


def test_a_step_that_used_its_window_fails_with_the_reason() -> None:
    with pytest.raises(StepFailed) as failed:
        _context(STEP_WINDOW_SECONDS + 1).budget(LINT_TIMEOUT_S)
    assert failed.value.code == ErrorCode.COMMAND_TIMEOUT
    assert "25-minute window" in str(failed.value) and "30 minutes" in str(failed.value)
