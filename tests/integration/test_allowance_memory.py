"""The Admin API allowance remembered from one process to the next: a drain that spent Admin calls
leaves Cloudinary's last figure in the database, and the next process (a new client, as a CLI
command or a DAG task has) starts from it, so its chunks overlap from the first one instead of the
first going alone to learn the allowance. A stale figure, or one from a window that has reset, is
learnt again; the reserve holds whichever figure the drain starts from."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from fixtures.emulator import seeded_public_id
from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.repository.allowance import AllowanceRepository
from mediasync.services.queue import CleanupQueue
from mediasync.store import AdminAllowance


class CountingClient(CloudinaryClient):
    """The real client (SDK → emulator), counting how many Admin deletes were in flight at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = 0
        self.in_flight_at_each_call: list[int] = []
        self._count_lock = threading.Lock()

    def delete_many(self, public_ids, resource_type="image", type="upload"):
        with self._count_lock:
            self.in_flight += 1
            self.in_flight_at_each_call.append(self.in_flight)
        try:
            return super().delete_many(public_ids, resource_type, type)
        finally:
            with self._count_lock:
                self.in_flight -= 1


def new_process_client(emulator) -> CountingClient:
    """A client as a new process builds it: it has heard nothing from Cloudinary yet."""
    return CountingClient(CloudinaryCredentials.from_url(emulator.cloudinary_url))


def queue_seeded(emulator, conn, n: int, prefix: str) -> None:
    emulator.seed(n, prefix=prefix)
    name = seeded_public_id(emulator.settings()["folder_mode"], prefix, 0)[:-7]
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) "
                 "SELECT %s || lpad(g::text, 7, '0'), 'db_delete' FROM generate_series(0, %s - 1) g", (name, n))


def drain(db, client, emulator, conn, prefix: str, n: int = 800, reserve: int = 50):
    queue_seeded(emulator, conn, n, prefix)
    return CleanupQueue(db, client, concurrency=4, admin_reserve=reserve).process(batch_size=100)


def remembered(conn) -> dict | None:
    return conn.execute("SELECT remaining, reset_at, seen_at FROM mediasync.admin_allowance").fetchone()


def test_the_next_process_starts_from_the_figure_the_last_one_left(db, emulator, conn):
    emulator.control(rate_limit=500, latency_ms=100)  # calls that take long enough to overlap
    first = new_process_client(emulator)
    assert drain(db, first, emulator, conn, "main-uploads/a").deleted == 800
    assert first.in_flight_at_each_call[:2] == [1, 1]  # nothing known yet: the first chunk went alone
    left = remembered(conn)
    assert left["remaining"] == 500 - 8 and left["remaining"] == first.admin_allowance.remaining

    second = new_process_client(emulator)
    assert drain(db, second, emulator, conn, "main-uploads/b").deleted == 800
    assert second.in_flight_at_each_call[:4] == [1, 2, 3, 4]  # overlapping from the first chunk
    assert remembered(conn)["remaining"] == 500 - 16  # the lower figure of the same window


def test_a_stale_figure_or_one_from_a_window_that_reset_is_learnt_again(db, emulator, conn):
    emulator.control(rate_limit=500, latency_ms=100)
    drain(db, new_process_client(emulator), emulator, conn, "main-uploads/a")
    conn.execute("UPDATE mediasync.admin_allowance SET seen_at = now() - interval '6 minutes'")
    stale = new_process_client(emulator)
    drain(db, stale, emulator, conn, "main-uploads/b")
    assert stale.in_flight_at_each_call[:2] == [1, 1]  # learnt again: the first chunk went alone

    conn.execute("UPDATE mediasync.admin_allowance SET reset_at = now() - interval '1 second'")
    after_reset = new_process_client(emulator)
    drain(db, after_reset, emulator, conn, "main-uploads/c")
    assert after_reset.in_flight_at_each_call[:2] == [1, 1]


def test_the_reserve_holds_from_a_remembered_figure(db, emulator, conn):
    emulator.control(rate_limit=60)  # 60 Admin calls this hour, 50 kept for the reconciliation
    first = drain(db, new_process_client(emulator), emulator, conn, "main-uploads/a")
    assert first.admin_calls == 8 and remembered(conn)["remaining"] == 52
    # A new process knows only what the last one left: 52. Two calls may overlap from the start; the
    # rest goes through the Upload API, never below the reserve.
    result = drain(db, new_process_client(emulator), emulator, conn, "main-uploads/b")
    assert result.deleted == 800 and result.admin_calls == 2 and result.deleted_via_upload_api == 600
    assert emulator.settings()["admin_calls_in_window"] == 10 and remembered(conn)["remaining"] == 50


def test_a_later_window_replaces_the_figure_and_an_earlier_one_never_does(db):
    repo = AllowanceRepository()
    now = datetime.now(timezone.utc)
    window, next_window = now + timedelta(minutes=30), now + timedelta(minutes=90)
    with db.transaction() as conn:
        repo.remember(conn, "demo", AdminAllowance(300, window, 500, now))
        repo.remember(conn, "demo", AdminAllowance(320, window, 500, now))  # a late answer of the same window
        assert repo.recall(conn, "demo", 300).remaining == 300
        repo.remember(conn, "demo", AdminAllowance(499, next_window, 500, now))
        assert repo.recall(conn, "demo", 300) == AdminAllowance(499, next_window, 500, now)
        repo.remember(conn, "demo", AdminAllowance(10, window, 500, now))  # a process still on the old window
        assert repo.recall(conn, "demo", 300).remaining == 499
        assert repo.recall(conn, "other-cloud", 300) is None
