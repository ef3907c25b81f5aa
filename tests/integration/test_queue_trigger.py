"""The cleanup queue's Airflow event trigger, run as the triggerer runs it (its async `run()`),
against real PostgreSQL: a SQL DELETE fires one event within a second; an idle queue fires
nothing; entries due without a notification (a retry, a missed notification) fire after the
poll interval; serialisation round-trips."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from mediasync.triggers.queue import CleanupQueueTrigger
from support.triggers import WatchedTrigger
from support.waiting import async_wait_until


@pytest.fixture
def trigger(monkeypatch, db_url) -> WatchedTrigger:
    monkeypatch.setenv("AIRFLOW_CONN_MEDIASYNC_DB", db_url)
    return WatchedTrigger(debounce_seconds=0.2, poll_seconds=1.0)


async def events_within(trigger: WatchedTrigger, seconds: float, action=None) -> list[tuple[float, dict]]:
    """Events the trigger fires within `seconds`, with when (s after `action` ran, once listening)."""
    got: list[tuple[float, dict]] = []
    started = [time.monotonic()]

    async def consume() -> None:
        async for event in trigger.run():
            got.append((time.monotonic() - started[0], event.payload))

    task = asyncio.ensure_future(consume())
    await async_wait_until(trigger.looked.is_set, timeout=10, message="the trigger never started listening")
    if action is not None:
        await asyncio.to_thread(action)
    started[0] = time.monotonic()
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return got


def test_a_sql_delete_fires_one_event_within_a_second(trigger, db_url, conn):
    conn.execute("INSERT INTO media_files (public_id) SELECT 'main-uploads/t' || g FROM generate_series(1, 300) g")

    def delete() -> None:
        with psycopg.connect(db_url, autocommit=True) as other:
            other.execute("DELETE FROM media_files WHERE public_id LIKE 'main-uploads/t1%'")
            other.execute("DELETE FROM media_files")

    trigger.poll_seconds = 5  # (after a quiet poll interval, the undrained entries would fire again)
    events = asyncio.run(events_within(trigger, 1.5, delete))
    assert [payload for _, payload in events] == [{"queued": 300}]  # a burst is one event
    assert events[0][0] < 1.0


def test_an_idle_queue_fires_nothing(trigger):
    assert asyncio.run(events_within(trigger, 2.5)) == []


def test_entries_due_without_a_notification_fire_after_the_poll_interval(trigger, conn):
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, available_at) "
                 "VALUES ('main-uploads/retry', 'db_delete', now() + interval '1 second')")  # a retry due soon
    events = asyncio.run(events_within(trigger, 2.5))
    assert [payload for _, payload in events][:1] == [{"queued": 1}]


def test_the_trigger_serialises_for_the_triggerer():
    trigger = CleanupQueueTrigger(conn_id="other_db", poll_seconds=10)
    classpath, kwargs = trigger.serialize()
    assert classpath == "mediasync.triggers.queue.CleanupQueueTrigger"
    assert CleanupQueueTrigger(**kwargs).serialize() == (classpath, kwargs)
