"""The Admin API allowance, remembered from one process to the next.

Cloudinary reports what is left of the hourly Admin allowance on every Admin answer, but a new
process (a CLI command, a DAG task) knows nothing until its first answer, so the cleanup drain sends
its first chunk alone to learn it: a whole round trip, hundreds of milliseconds against Cloudinary.
A process that spent Admin calls leaves the last figure in the database; the next one starts from
it when it is recent and its window has not reset, and the first answer it gets takes over.
"""

from __future__ import annotations

from datetime import timedelta

from mediasync.db import Database
from mediasync.repository.allowance import AllowanceRepository
from mediasync.store import AdminAllowance, AllowanceKeeper

# An older figure may hide what other processes spent since: learn it again instead.
RECALL_WITHIN = timedelta(minutes=5)


class AllowanceMemory:
    def __init__(self, db: Database, recall_within: timedelta = RECALL_WITHIN,
                 repository: AllowanceRepository | None = None) -> None:
        self.db = db
        self.recall_within = recall_within
        self.repo = repository or AllowanceRepository()

    def recall(self, store: object, db: Database | None = None) -> AdminAllowance | None:
        """Give `store` the figure the last process left, when it has none of its own yet."""
        if not isinstance(store, AllowanceKeeper) or store.admin_allowance is not None:
            return None
        with (db or self.db).transaction() as conn:
            allowance = self.repo.recall(conn, store.account, self.recall_within.total_seconds())
        if allowance is not None:
            store.assume_allowance(allowance)
        return allowance

    def remember(self, store: object, db: Database | None = None) -> bool:
        """Leave `store`'s last figure for the next process; False when it has none."""
        if not isinstance(store, AllowanceKeeper):
            return False
        allowance = store.admin_allowance
        if allowance is None or allowance.remaining is None or allowance.seen_at is None:
            return False
        with (db or self.db).transaction() as conn:
            self.repo.remember(conn, store.account, allowance)
        return True
