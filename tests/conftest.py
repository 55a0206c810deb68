"""Shared fixtures: a throwaway PostgreSQL cluster per test session, and a fresh database per test cloned
from a migrated template (so each test starts from exactly the migrations, in milliseconds)."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from appgen.auth import mint_user_token
from appgen.gateway import Caller, ControlPlane, PostgresTransport
from appgen.localstack.postgres import LocalPostgres
from appgen.migrate import migrate
from appgen.settings import LOCAL_JWT_SECRET, REPO_ROOT

TEMPLATE = "appgen_template"
_counter = itertools.count()
CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Keeps each test's call report on its item, so a fixture's teardown can tell a failed test
    (`failed(request.node)`) and say what it saw."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


def failed(item: pytest.Item) -> bool:
    report = item.stash.get(CALL_REPORT, None)
    return report is not None and report.failed


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalPostgres]:
    root = Path(tempfile.mkdtemp(prefix="appgen-test-pg-"))
    root.chmod(0o755)  # the server runs as the postgres user when the tests run as root
    cluster = LocalPostgres(root / "pg")
    cluster.start()
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{TEMPLATE}"')
    migrate(cluster.dsn(TEMPLATE), REPO_ROOT / "supabase" / "migrations")
    yield cluster
    cluster.stop()


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary directory other users can enter (pytest's tmp_path is private): the `postgres` system
    user of the embedded cluster, and the sandbox's uid 65534 when the tests run as root."""
    path = Path(tempfile.mkdtemp(prefix="appgen-test-"))
    path.chmod(0o755)
    yield path
    if not os.environ.get("APPGEN_TEST_KEEP"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def db_dsn(pg_cluster: LocalPostgres) -> Iterator[str]:
    name = f"test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}" template "{TEMPLATE}"')
    yield pg_cluster.dsn(name)
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def control_plane(db_dsn: str) -> Iterator[ControlPlane]:
    plane = ControlPlane(PostgresTransport(db_dsn, max_size=4))
    yield plane
    plane.transport.close()


def user_claims(user_id: uuid.UUID | None = None) -> dict[str, object]:
    return {"sub": str(user_id or uuid.uuid4()), "role": "authenticated", "aud": "authenticated"}


@pytest.fixture
def alice() -> Caller:
    return Caller.user(user_claims())


@pytest.fixture
def bob() -> Caller:
    return Caller.user(user_claims())


def token_for(caller: Caller) -> str:
    assert caller.claims is not None
    return mint_user_token(str(caller.claims["sub"]), LOCAL_JWT_SECRET)
