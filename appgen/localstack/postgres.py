"""An embedded PostgreSQL cluster under a data directory, built from Debian's `postgresql` binaries.

PostgreSQL refuses to run as root, and CI runs as root: the server then runs as the `postgres` system user
(the cluster's files are owned by it). The superuser `postgres` gets a random password stored beside the
cluster, so the DSN printed for operators works from any client.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from appgen.errors import ConfigError
from appgen.subprocesses import closed_parent

DATABASE = "appgen"


def find_pg_bin() -> Path:
    """The newest installed PostgreSQL server binaries (Debian keeps them off PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ConfigError(
        "PostgreSQL server binaries not found: install Debian's `postgresql` package "
        "(`make test` and `make demo` do this for you) or set APPGEN_DATABASE_URL"
    )


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parents[1].name)
    except ValueError:
        return 0


@dataclass
class LocalPostgres:
    """A cluster in `root` (created on first use, reused afterwards) listening on loopback only."""

    root: Path
    port: int = 0

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def _password_file(self) -> Path:
        return self.root / "superuser-password"

    def dsn(self, database: str = DATABASE) -> str:
        password = self._password_file.read_text().strip()
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> str:
        """Create the cluster if needed, start it, create the database; return the superuser DSN."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale()
        self.port = self.port or _free_port()
        self._pg_ctl(
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            str(self.root / "postgres.log"),
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
        )
        self._ensure_database()
        return self.dsn()

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            # fast: roll back open transactions and disconnect; if that does not finish in time (a backend
            # stuck in a call), immediate: the next start recovers from the WAL, as after a crash.
            stopped = self._pg_ctl("stop", "-m", "fast", "-w", "-t", "15", check=False)
            if stopped.returncode != 0:
                self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "5", check=False)

    def _initdb(self) -> None:
        password = secrets.token_urlsafe(24)
        self._password_file.write_text(password + "\n")
        self._password_file.chmod(0o600)
        pwfile = self.root / ".initdb-pw"
        pwfile.write_text(password + "\n")
        self._own(self.root, pwfile)
        try:
            self._run(
                str(find_pg_bin() / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _stop_stale(self) -> None:
        """A previous run that was killed may have left its server running: stop it cleanly first."""
        if (self.pgdata / "postmaster.pid").exists():
            # fast: roll back open transactions and disconnect; if that does not finish in time (a backend
            # stuck in a call), immediate: the next start recovers from the WAL, as after a crash.
            stopped = self._pg_ctl("stop", "-m", "fast", "-w", "-t", "15", check=False)
            if stopped.returncode != 0:
                self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "5", check=False)

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'create database "{DATABASE}"')

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(str(find_pg_bin() / "pg_ctl"), "-D", str(self.pgdata), *args, check=check)

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv,
            preexec_fn=_drop_root if os.geteuid() == 0 else None,
            capture_output=True,
            text=True,
            cwd=self.root,
            check=False,
        )
        if check and result.returncode != 0:
            raise ConfigError(f"{Path(argv[0]).name} failed: {(result.stderr or result.stdout).strip()}")
        return result

    def _own(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        closed = closed_parent(self.root)
        if closed is not None:
            raise ConfigError(
                f"the database runs as the `postgres` user, which cannot enter {closed}: "
                f"choose a data directory under a world-searchable path or `chmod o+x {closed}`"
            )
        user = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, user.pw_uid, user.pw_gid)


def _drop_root() -> None:
    user = pwd.getpwnam("postgres")
    os.setgid(user.pw_gid)
    os.initgroups("postgres", user.pw_gid)
    os.setuid(user.pw_uid)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
