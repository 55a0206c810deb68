"""The direct transport behind a transaction pooler, as Supabase's (port 6543) runs: a real PgBouncer in
transaction mode in front of the test cluster. Every transaction may land on another server connection;
`server_reset_query_always` makes that deterministic by resetting the server connection after each one,
so a statement prepared in one transaction is gone in the next."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from appgen.gateway import Caller, ControlPlane, JobAnswers, PostgresTransport
from appgen.gateway.changes import ListenedChanges
from tests.fixtures.specs import small_spec
from tests.fixtures.waiting import wait_for

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def pooler(db_dsn: str, open_tmp: Path) -> Iterator[str]:
    """The DSN of a transaction-mode PgBouncer in front of `db_dsn`."""
    if not Path(PGBOUNCER).exists():
        pytest.fail("pgbouncer is missing: scripts/install-system-deps installs it")
    server = urlsplit(db_dsn)
    port = _free_port()
    (open_tmp / "users.txt").write_text(f'"{server.username}" "{server.password}"\n')
    config = open_tmp / "pgbouncer.ini"
    config.write_text(
        f"""[databases]
* = host={server.hostname} port={server.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {open_tmp / "users.txt"}
pool_mode = transaction
server_reset_query = DISCARD ALL
server_reset_query_always = 1
default_pool_size = 2
"""
    )
    for path in (open_tmp / "users.txt", config):
        shutil.chown(path, "postgres")
    # PgBouncer refuses to run as root; `-u` switches to the cluster's own system user.
    log = open_tmp / "pgbouncer.log"
    with log.open("w") as log_file:
        process = subprocess.Popen([PGBOUNCER, "-u", "postgres", str(config)], stderr=log_file)
    dsn = db_dsn.replace(f"{server.hostname}:{server.port}", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: _accepts(dsn), 10, lambda: f"pgbouncer to accept connections:\n{log.read_text()}")
        yield dsn
    finally:
        process.terminate()
        process.wait(timeout=10)


def _accepts(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


def test_rpcs_work_through_a_transaction_pooler(pooler: str, alice: Caller) -> None:
    plane = ControlPlane(PostgresTransport(pooler, max_size=2))
    try:
        # Each pooled connection runs each statement more often than psycopg's default prepare threshold
        # (5), and then again.
        for _ in range(30):
            assert plane.list_jobs(alice, None, 10) == []
    finally:
        plane.transport.close()


def test_the_pooler_really_drops_prepared_statements_between_transactions(pooler: str) -> None:
    """The control for the test above: with psycopg's default (prepare after 5 executions) the same
    calls fail, so the transport's setting is what makes them work."""
    with psycopg.connect(pooler) as conn, pytest.raises(psycopg.errors.InvalidSqlStatementName):
        for _ in range(12):
            with conn.transaction():
                conn.execute("select count(*) from pg_class where relname = %s", ("x",)).fetchone()


def test_event_streams_listen_over_the_session_url_when_the_rpcs_go_through_the_pooler(
    pooler: str, db_dsn: str, alice: Caller
) -> None:
    """Notifications never come through a transaction pooler; the one LISTEN connection uses its own URL."""
    plane = ControlPlane(PostgresTransport(pooler, listen_dsn=db_dsn, max_size=2))
    changes = plane.transport.job_changes(60)  # a poll would wake it only after a minute
    try:
        job, _ = plane.submit_job(alice, small_spec(1), None)
        watcher = changes.subscribe(job)
        assert isinstance(changes, ListenedChanges) and changes.listening.wait(10)
        watcher.wait(0)  # the wake-up every subscription gets when the listener connects

        plane.append_job_log(job, None, "info", "queued", "a line")

        assert watcher.wait(5), "a line written through the pooler wakes the job's stream"
    finally:
        changes.close()
        plane.transport.close()


def test_a_feed_listening_through_the_pooler_never_vouches_so_no_status_answer_is_kept(
    pooler: str, db_dsn: str, alice: Caller
) -> None:
    """APPGEN_DATABASE_LISTEN_URL left at the transaction pooler: LISTEN seems to work, but the pooler
    resets each server connection after its transaction, so no notification ever arrives. The feed's
    probes (sent through the pooler, like every change) never come back: it never vouches, and the status
    route's answers are never kept. Over the session URL the same probes are heard."""
    through_pooler = PostgresTransport(pooler, max_size=2)
    direct = PostgresTransport(pooler, listen_dsn=db_dsn, max_size=2)
    feeds = [through_pooler.job_changes(60), direct.job_changes(60)]
    try:
        job, _ = ControlPlane(through_pooler).submit_job(alice, small_spec(1), None)
        answers = JobAnswers(ControlPlane(through_pooler), feeds[0])
        assert isinstance(feeds[0], ListenedChanges) and feeds[0].listening.wait(10)
        feeds[1].watch(lambda _: None)
        wait_for(feeds[1].vouches, 10, "the session URL's feed to hear its probe")
        for _ in range(3):  # some probes went out meanwhile
            time.sleep(2)
            assert not feeds[0].vouches()
            assert answers.get_job(alice, job)["job_id"] == job
            assert answers.held() == 0
    finally:
        for feed in feeds:
            feed.close()
        through_pooler.close()
        direct.close()
