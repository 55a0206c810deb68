"""The Python mirrors of the policy migration stay equal to it: the plan's numbers and the spec's limits
(`POLICY`), the error codes with their refund and retry flags (`ErrorCode`), and the stages, whose steps
the worker must know how to run and the dispatcher where to send. The spec's two patterns also mean the
same to both regular-expression engines that apply them (tests/integration/test_spec_mirror.py checks
the rest of the spec's rules on both sides)."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Annotated, Any

import psycopg
import pytest
from psycopg.rows import dict_row
from pydantic import StringConstraints, TypeAdapter, ValidationError

from appgen.dispatch import QUEUE_OF_KIND
from appgen.http_api import openapi_document
from appgen.pipeline.steps import STEPS
from appgen.policy import POLICY, ErrorCode
from appgen.settings import REPO_ROOT


def _rows(db_dsn: str, sql: str) -> list[dict[str, Any]]:
    with psycopg.connect(db_dsn, row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()


def test_the_python_policy_equals_the_sql_policy(db_dsn: str) -> None:
    (row,) = _rows(db_dsn, "select (public.app_generation_policy()).*")
    sql = {name: tuple(value) if isinstance(value, list) else value for name, value in row.items()}
    python = dataclasses.asdict(POLICY)

    assert sql == python
    assert POLICY.job_time_limit == timedelta(minutes=45)
    assert POLICY.job_time_limit_text == "45-minute"


def test_every_error_code_is_mirrored_with_its_refund_and_retry_rules(db_dsn: str) -> None:
    rows = _rows(
        db_dsn, "select code, refunded, transient from public.app_generation_error_codes order by code"
    )

    assert [row["code"] for row in rows] == sorted(code.value for code in ErrorCode)
    for row in rows:
        code = ErrorCode(row["code"])
        assert (code.refunded, code.transient) == (row["refunded"], row["transient"]), code


def test_every_stage_with_a_step_can_be_run_and_dispatched(db_dsn: str) -> None:
    rows = _rows(db_dsn, "select name, task_kind from public.app_generation_stages order by position")
    kinds = {row["task_kind"] for row in rows if row["task_kind"]}

    assert set(STEPS) == kinds
    assert set(QUEUE_OF_KIND) == kinds | {"start"}
    described = openapi_document()["components"]["schemas"]["Job"]["properties"]["stage"]["description"]
    assert re.findall(r"`([a-z]+)`", described) == [row["name"] for row in rows]


def test_the_readme_lists_every_error_code_with_its_rules(db_dsn: str) -> None:
    rows = _rows(
        db_dsn, "select code, refunded, transient, description from public.app_generation_error_codes"
    )
    readme = (REPO_ROOT / "README.md").read_text()
    listed = {
        code: (meaning, retried == "yes", refunded == "yes")
        for code, meaning, retried, refunded in re.findall(
            r"^\| `([a-z_]+)` \| (.+?) \| (yes|no) \| (yes|no) \|$", readme, re.MULTILINE
        )
    }

    assert listed == {row["code"]: (row["description"], row["transient"], row["refunded"]) for row in rows}


SLUGS = [
    "a",
    "home",
    "page-1",
    "a" * 40,
    "a" * 41,
    "1a",
    "-a",
    "a_b",
    "Home",
    "a b",
    "",
    "home\n",
    "\nhome",
    "\uff48ome",  # a fullwidth h
    "é",
    "a-",
    "a--b",
]
ROUTES = [
    "/",
    "/a",
    "/a-b/c1",
    "/a/b/c/d/e",
    "/a/b/c/d/e/f",
    "/" + "a" * 40,
    "/" + "a" * 41,
    "//",
    "/a/",
    "a",
    "/A",
    "/-a",
    "/[id]",
    "/a\n",
    "/a b",
    "/é",
    "/api",
    "/_next",
    "",
]


@pytest.mark.parametrize(
    ("pattern", "samples"), [("slug_pattern", SLUGS), ("route_pattern", ROUTES)], ids=["slug", "route"]
)
def test_both_regex_engines_read_the_patterns_alike(db_dsn: str, pattern: str, samples: list[str]) -> None:
    """pydantic (Rust `regex`) checks the API's specs, Postgres (ARE) submit_job's: the same verdicts."""
    regex = getattr(POLICY, pattern)
    adapter: TypeAdapter[str] = TypeAdapter(Annotated[str, StringConstraints(pattern=regex)])

    def python(value: str) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    with psycopg.connect(db_dsn) as conn:
        row = conn.execute(
            f"select array(select s ~ (public.app_generation_policy()).{pattern} from unnest(%s::text[]) s)",
            (samples,),
        ).fetchone()
    assert row is not None
    assert dict(zip(samples, row[0], strict=True)) == {s: python(s) for s in samples}
    assert any(row[0]) and not all(row[0])
