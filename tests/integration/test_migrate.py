"""`appgen migrate` (and the local stack, which calls the same code) applies supabase/migrations in order
onto an empty database, and refuses, before applying anything, a history it cannot extend forward:
a pending migration older than the newest applied one, or an applied one the directory does not have."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from appgen import cli
from appgen.errors import MigrationError
from appgen.localstack.postgres import LocalPostgres
from appgen.localstack.stack import LocalStack
from appgen.migrate import list_migrations, migrate
from appgen.settings import REPO_ROOT, Settings

MIGRATIONS = REPO_ROOT / "supabase" / "migrations"


@pytest.fixture
def empty_dsn(pg_cluster: LocalPostgres) -> Iterator[str]:
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute('drop database if exists "migrate_test" with (force)')
        conn.execute('create database "migrate_test"')
    yield pg_cluster.dsn("migrate_test")
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute('drop database if exists "migrate_test" with (force)')


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copy)
    return copy


def _history(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select version from supabase_migrations.schema_migrations order by version")
        return [row[0] for row in rows]


def _has_table(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select to_regclass(%s) is not null", (f"public.{name}",)).fetchone() == (True,)


def test_the_migrations_apply_to_an_empty_database_in_order_and_once(empty_dsn: str) -> None:
    versions = [m.version for m in list_migrations(MIGRATIONS)]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)

    assert migrate(empty_dsn, MIGRATIONS) == versions
    assert _history(empty_dsn) == versions
    assert _has_table(empty_dsn, "app_generation_jobs")
    assert migrate(empty_dsn, MIGRATIONS) == []
    with psycopg.connect(empty_dsn) as conn:
        bucket = conn.execute(
            "select public, allowed_mime_types from storage.buckets where id = 'generated-apps'"
        )
        assert bucket.fetchall() == [(False, ["application/zip"])]


def test_the_migrations_apply_before_the_storage_service_has_migrated_its_tables(empty_dsn: str) -> None:
    """As in `supabase db reset` (supabase/cli#4085): storage.buckets exists without the storage service's
    later columns. The migrations still apply; the Supabase CLI creates the bucket from config.toml."""
    with psycopg.connect(empty_dsn) as conn:
        conn.execute("create schema storage")
        conn.execute("create table storage.buckets (id text primary key, name text not null unique)")

    migrate(empty_dsn, MIGRATIONS)

    assert _has_table(empty_dsn, "app_generation_artifacts")
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("select count(*) from storage.buckets").fetchone() == (0,)


def test_a_pending_migration_older_than_the_newest_applied_one_is_refused(
    empty_dsn: str, migrations_copy: Path
) -> None:
    migrate(empty_dsn, migrations_copy)
    newest = list_migrations(migrations_copy)[-1]
    late = migrations_copy / f"{int(newest.version) - 1}_late_fix.sql"
    late.write_text("create table public.late_marker (id integer);")
    later = migrations_copy / f"{int(newest.version) + 1}_later.sql"
    later.write_text("create table public.later_marker (id integer);")

    with pytest.raises(MigrationError) as refused:
        migrate(empty_dsn, migrations_copy)

    message = refused.value.message
    assert late.name in message and newest.filename in message, message
    assert "forward-only" in message
    # Nothing was applied: not the late file, and not the valid one after it either.
    assert not _has_table(empty_dsn, "late_marker")
    assert not _has_table(empty_dsn, "later_marker")
    assert _history(empty_dsn)[-1] == newest.version

    late.rename(migrations_copy / f"{int(newest.version) + 2}_late_fix.sql")
    assert migrate(empty_dsn, migrations_copy) == [str(int(newest.version) + 1), str(int(newest.version) + 2)]
    assert _has_table(empty_dsn, "late_marker")


def test_an_applied_migration_missing_from_the_directory_is_refused(
    empty_dsn: str, migrations_copy: Path
) -> None:
    migrate(empty_dsn, migrations_copy)
    newest = list_migrations(migrations_copy)[-1]
    newest.path.unlink()

    with pytest.raises(MigrationError) as refused:
        migrate(empty_dsn, migrations_copy)

    assert newest.filename in refused.value.message
    assert "another version of appgen" in refused.value.message


def test_appgen_migrate_and_the_local_stack_refuse_with_a_clear_error(
    empty_dsn: str, migrations_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    migrate(empty_dsn, migrations_copy)
    newest = list_migrations(migrations_copy)[-1]
    late = migrations_copy / f"{int(newest.version) - 1}_late_fix.sql"
    late.write_text("select 1;")
    monkeypatch.setenv("APPGEN_DATABASE_URL", empty_dsn)

    result = CliRunner().invoke(cli.main, ["migrate"])
    assert result.exit_code == 0, result.output  # the real directory has no late file: nothing to apply
    assert "applied 0 migration(s)" in result.output

    real_settings = cli._settings
    monkeypatch.setattr(
        cli, "_settings", lambda env=None: real_settings(env).with_overrides(migrations_dir=migrations_copy)
    )
    result = CliRunner().invoke(cli.main, ["migrate"])
    assert result.exit_code == 1, result.output
    assert (
        f"Error: supabase/migrations/{late.name} is pending but older than {newest.filename}" in result.output
    )
    assert "Traceback" not in result.output

    settings = Settings(database_url=empty_dsn, data_dir=tmp_path / "data", migrations_dir=migrations_copy)
    stack = LocalStack(settings, port=0)
    with pytest.raises(MigrationError, match=late.name):
        stack.start()
    assert stack.services is None
