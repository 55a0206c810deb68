"""`run_command`, the way validation runs the generated app's commands: output comes back redacted and
without colour codes, a missing program and a timeout fail the step with their own codes, and the
command never sees this process's secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from appgen.errors import StepFailed
from appgen.pipeline.commands import clean_env, run_command


def test_a_command_reports_its_exit_code_and_its_cleaned_output(tmp_path: Path) -> None:
    script = "printf '\\033[31mred\\033[0m\\n'; echo oops >&2; exit 2"
    result = run_command(["sh", "-c", script], tmp_path, timeout_s=30)
    assert (result.exit_code, result.ok, result.output) == (2, False, "red\noops")
    assert result.display == f"sh -c {script}"


def test_a_missing_program_is_an_internal_failure(tmp_path: Path) -> None:
    with pytest.raises(StepFailed) as failed:
        run_command(["no-such-program-appgen"], tmp_path, timeout_s=30)
    assert failed.value.code == "internal"
    assert failed.value.message == "no-such-program-appgen is not installed in the worker"


def test_a_timeout_fails_with_command_timeout_and_the_output_so_far(tmp_path: Path) -> None:
    with pytest.raises(StepFailed) as failed:
        run_command(["sh", "-c", "echo started; sleep 30"], tmp_path, timeout_s=1.0)
    assert failed.value.code == "command_timeout" and not failed.value.transient
    assert failed.value.message == "`sh -c echo started; sleep 30` did not finish within 1 s\nstarted"


def test_a_cancel_stops_the_command(tmp_path: Path) -> None:
    with pytest.raises(StepFailed) as failed:
        run_command(["sleep", "30"], tmp_path, timeout_s=60, should_stop=lambda: True)
    assert (failed.value.code, failed.value.message) == ("cancelled", "the job was cancelled")


def test_the_environment_holds_no_inherited_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-role-secret")
    result = run_command(["env"], tmp_path, timeout_s=30, npm_cache=tmp_path / "cache")
    names = {line.split("=", 1)[0] for line in result.output.splitlines()}
    assert names == set(clean_env(tmp_path, tmp_path / "cache"))
    assert "service-role-secret" not in result.output
