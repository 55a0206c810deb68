"""Applies `supabase/migrations/*.sql` in order, recording each in the Supabase CLI's history table so
that `supabase db push` and `appgen migrate` agree about what is applied.

On a plain PostgreSQL (the local stack, the tests) the Supabase compatibility script runs first; on a real
Supabase database it never does, because the `auth` schema already exists there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

COMPAT_SCRIPT = Path(__file__).parent / "localstack" / "supabase_compat.sql"


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @classmethod
    def from_path(cls, path: Path) -> Migration:
        version, _, name = path.stem.partition("_")
        return cls(version=version, name=name, path=path)


def list_migrations(migrations_dir: Path) -> list[Migration]:
    return [Migration.from_path(p) for p in sorted(migrations_dir.glob("*.sql"))]


def migrate(dsn: str, migrations_dir: Path) -> list[str]:
    """Bring the database up to date; returns the versions applied now (empty when already current)."""
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        has_auth = conn.execute("select 1 from pg_namespace where nspname = 'auth'").fetchone()
        if not has_auth:
            conn.execute(COMPAT_SCRIPT.read_text())
        conn.execute(
            "create schema if not exists supabase_migrations;"
            "create table if not exists supabase_migrations.schema_migrations"
            " (version text primary key, statements text[], name text)"
        )
        done = {row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations")}
        for migration in list_migrations(migrations_dir):
            if migration.version in done:
                continue
            sql = migration.path.read_text()
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, statements, name)"
                    " values (%s, %s, %s)",
                    (migration.version, [sql], migration.name),
                )
            applied_now.append(migration.version)
    return applied_now
