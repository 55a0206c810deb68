"""The migrations keep the layout README "Contributing" promises: each file is `<UTC timestamp>_<domain>.sql`
with one of the listed domains, and each function of the public schema is introduced once, by a plain
`create function`, and only ever redefined by `create or replace function` in a file that applies later.
(A second plain `create function` would fail on a database that has the first; a `create or replace`
before or beside the introduction would hide which file owns the function.)"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from appgen.settings import REPO_ROOT

MIGRATIONS = REPO_ROOT / "supabase" / "migrations"
_FILE_NAME = re.compile(r"(?P<version>[0-9]{14})_(?P<domain>[a-z_]+)\.sql")
_DEFINITION = re.compile(
    r"\bcreate\s+(?P<replace>or\s+replace\s+)?function\s+\"?public\"?\s*\.\s*\"?(?P<name>\w+)\"?",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)


def _domains() -> set[str]:
    """The domains README "Contributing" lists: "(the domains: policy, jobs, …)"."""
    readme = (REPO_ROOT / "README.md").read_text()
    listed = re.search(r"\(the domains: ([a-z_, ]+)\)", readme)
    assert listed, 'README "Contributing" no longer lists the migration domains as "(the domains: …)"'
    return {domain.strip() for domain in listed.group(1).split(",")}


def _definitions() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Function name -> the files (in apply order, once per definition) that `create` it, and that
    `create or replace` it. Comments are left out, so a comment quoting a definition does not count."""
    created: dict[str, list[str]] = {}
    replaced: dict[str, list[str]] = {}
    for path in sorted(MIGRATIONS.glob("*.sql")):
        for match in _DEFINITION.finditer(_COMMENT.sub("", path.read_text())):
            into = replaced if match["replace"] else created
            into.setdefault(match["name"].lower(), []).append(path.name)
    return created, replaced


def _badly_named(path: Path, domains: set[str]) -> str | None:
    match = _FILE_NAME.fullmatch(path.name)
    if match is None:
        return f"{path.name}: not <14-digit UTC timestamp>_<domain>.sql"
    try:
        datetime.strptime(match["version"], "%Y%m%d%H%M%S")
    except ValueError:
        return f"{path.name}: {match['version']} is not a timestamp (YYYYMMDDHHMMSS)"
    if match["domain"] not in domains:
        return f"{path.name}: {match['domain']!r} is not a domain ({', '.join(sorted(domains))})"
    return None


def test_every_migration_is_named_by_its_utc_timestamp_and_a_listed_domain() -> None:
    domains = _domains()
    files = sorted(MIGRATIONS.iterdir())
    problems = [problem for path in files if (problem := _badly_named(path, domains))]

    assert files, f"no migrations in {MIGRATIONS}"
    assert not problems, "badly named migrations:\n" + "\n".join(problems)


def test_each_public_function_is_created_once_and_replaced_only_in_later_files() -> None:
    created, replaced = _definitions()
    problems = []
    for name, files in sorted(created.items()):
        if len(files) > 1:
            problems.append(
                f"public.{name} is introduced by a plain `create function` {len(files)} times "
                f"({', '.join(files)}): every later definition must be `create or replace function`"
            )
    for name, files in sorted(replaced.items()):
        if name not in created:
            problems.append(
                f"public.{name} is only `create or replace`d ({', '.join(files)}): introduce it with a "
                "plain `create function` in the first file that defines it"
            )
            continue
        introducing = created[name][0]
        early = [file for file in files if file <= introducing]
        if early:
            problems.append(
                f"public.{name} is redefined in {', '.join(early)}, which does not sort after "
                f"{introducing}, the file that introduces it"
            )

    assert any(name.startswith("app_generation_") for name in created), "no app_generation_* function found"
    assert "submit_job" in created and "submit_job" in replaced, "the scan misses known definitions"
    assert not problems, "\n".join(problems)
