"""What wakes the job event streams (appgen/gateway/changes.py) on a real database: Postgres notifies a
job's changes and new lines by its id, one listening connection per process fans them out to exactly the
subscriptions of that job, a lost connection is replaced (and everyone woken, since notifications sent
meanwhile are lost), and closing ends every subscription. Over REST, a poll wakes them instead."""

from __future__ import annotations

import time
import uuid

import psycopg

from appgen.gateway import Caller, ControlPlane
from appgen.gateway.changes import ListenedChanges, PolledChanges
from tests.fixtures.specs import small_spec
from tests.fixtures.waiting import wait_for


def _listening_connections(db_dsn: str) -> int:
    with psycopg.connect(db_dsn) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where datname = current_database() "
            "and application_name = %s",
            (ListenedChanges.APPLICATION_NAME,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_notifications_wake_only_the_subscriptions_of_the_changed_job(
    control_plane: ControlPlane, db_dsn: str, alice: Caller
) -> None:
    first, _ = control_plane.submit_job(alice, small_spec(1), None)
    second, _ = control_plane.submit_job(alice, small_spec(1), None)
    changes = ListenedChanges(db_dsn)
    try:
        watchers = [changes.subscribe(first), changes.subscribe(first)]
        other = changes.subscribe(second)
        assert changes.listening.wait(10)
        for subscription in (*watchers, other):
            subscription.wait(0)  # the wake-up every subscription gets when the listener connects

        control_plane.append_job_log(first, None, "info", "queued", "a line")
        assert all(w.wait(5) for w in watchers), "a new line wakes every stream of its job"
        assert not other.wait(0.3), "and no other"
        control_plane.cancel_job(alice, first)
        assert all(w.wait(5) for w in watchers), "a change of the job row wakes them too"
        assert not other.wait(0.3)
        # Many changes before a stream looks are one wake-up: a flag, not a queue.
        for i in range(20):
            control_plane.append_job_log(first, None, "info", "queued", f"line {i}")
        time.sleep(0.3)
        assert watchers[0].wait(1) and not watchers[0].wait(0.2)
        assert _listening_connections(db_dsn) == 1, "one connection, however many subscriptions"
    finally:
        changes.close()
    assert not watchers[1].wait(1) and watchers[1].closed, "closing ends every subscription"
    wait_for(lambda: _listening_connections(db_dsn) == 0, 10, "the listening connection to close")


def test_a_lost_listening_connection_is_replaced_and_everyone_is_woken(
    control_plane: ControlPlane, db_dsn: str, alice: Caller
) -> None:
    job, _ = control_plane.submit_job(alice, small_spec(1), None)
    changes = ListenedChanges(db_dsn)
    try:
        subscription = changes.subscribe(job)
        assert changes.listening.wait(10)
        subscription.wait(0)
        with psycopg.connect(db_dsn, autocommit=True) as conn:
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = %s and datname = current_database()",
                (ListenedChanges.APPLICATION_NAME,),
            )
        assert subscription.wait(5), "the streams re-read: notifications may have been lost meanwhile"
        wait_for(lambda: _listening_connections(db_dsn) == 1, 10, "a new listening connection")
        assert changes.listening.wait(5)
        subscription.wait(0)
        control_plane.append_job_log(job, None, "info", "queued", "after the reconnect")
        assert subscription.wait(5)
    finally:
        changes.close()


def test_without_notifications_a_poll_wakes_every_subscription() -> None:
    changes = PolledChanges(0.05)
    try:
        subscription = changes.subscribe(uuid.uuid4())
        started = time.monotonic()
        assert subscription.wait(2) and subscription.wait(2)
        assert time.monotonic() - started >= 0.09
        assert changes.subscribers() == 1
        changes.unsubscribe(subscription)
        assert changes.subscribers() == 0
    finally:
        changes.close()
