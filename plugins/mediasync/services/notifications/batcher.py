"""Group commit for notifications that arrive together.

A console bulk delete or a folder move sends thousands of webhooks within a minute. One
transaction each pays, per notification, a pooled connection's check, BEGIN and a COMMIT that
waits for the WAL to reach the disk, while the request threads queue for the pool's connections.
Here concurrent notifications share a transaction: each request thread hands its (verified,
parsed) notification to a set of committer threads and waits; a committer takes what is
waiting (up to `max_group`), stores and applies each in order in one transaction, commits once,
then answers every waiting thread. A notification that finds a committer free goes at once (nothing
waits for company); groups form when all committers are busy, which is when they help.

Nothing is weaker than one transaction each: a caller is answered only after the commit that holds
its notification, and if anything in a group fails (a bad row, a deadlock with another process's
group, the database going away) the whole group rolls back and each of its notifications runs again
in a transaction of its own, so one poison notification fails alone and no partial group is ever
visible. Per-notification idempotency (the body's SHA-256) is the store function's, unchanged.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from mediasync.db import Connection, Database

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MAX_GROUP = 50  # notifications per transaction: short locks, bounded redo when a group falls back
# Transactions in flight at once. A group runs its notifications one after the other on one
# connection, so with a database a few milliseconds away (Supabase) few committers would serialise
# what the pool's connections did side by side: as many as most of the pool (10) keeps that
# parallelism, and groups form only when all of them are busy.
COMMITTERS = 8


class GroupCommitter(Generic[T, R]):
    """Runs `store(conn, item)` for items submitted from many threads, grouped into shared
    transactions on `database()`; `submit` returns the item's result after its commit."""

    def __init__(self, database: Callable[[], Database], store: Callable[[Connection, T], R], *,
                 max_group: int = MAX_GROUP, committers: int = COMMITTERS) -> None:
        self._database = database
        self._store = store
        self.max_group = max(1, max_group)
        self.committers = max(1, committers)
        self._waiting: queue.SimpleQueue[tuple[T, Future[R]]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.groups = 0  # transactions committed (for the benchmark and tests)
        self.grouped = 0  # notifications they held

    def submit(self, item: T) -> R:
        """Store `item` in a shared transaction; its result once committed (or its exception)."""
        self._start()
        done: Future[R] = Future()
        self._waiting.put((item, done))
        return done.result()

    def _start(self) -> None:
        if len(self._threads) >= self.committers:
            return
        with self._lock:
            while len(self._threads) < self.committers:
                thread = threading.Thread(target=self._run, name=f"notification-commit-{len(self._threads)}",
                                          daemon=True)
                thread.start()
                self._threads.append(thread)

    def _run(self) -> None:
        while True:
            group = [self._waiting.get()]
            while len(group) < self.max_group:
                try:
                    group.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._commit(group)

    def _commit(self, group: list[tuple[T, Future[R]]]) -> None:
        if len(group) > 1:
            try:
                with self._database().transaction() as conn:
                    results = [self._store(conn, item) for item, _ in group]
            except Exception as exc:  # noqa: BLE001 - each notification runs again on its own
                log.info("a group of %d notifications rolled back (%s: %s); each runs in its own transaction",
                         len(group), type(exc).__name__, exc)
            else:
                self.groups += 1
                self.grouped += len(group)
                for (_, done), result in zip(group, results, strict=True):
                    done.set_result(result)
                return
        for item, done in group:
            try:
                with self._database().transaction() as conn:
                    result = self._store(conn, item)
            except BaseException as exc:  # noqa: BLE001 - the caller's thread raises it
                done.set_exception(exc)
            else:
                done.set_result(result)
