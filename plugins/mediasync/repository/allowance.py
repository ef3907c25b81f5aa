"""The SQL of mediasync.admin_allowance: the Admin API allowance Cloudinary last reported, per cloud,
kept for the next process that calls the Admin API."""

from __future__ import annotations

from mediasync.db import Connection
from mediasync.store import AdminAllowance


class AllowanceRepository:
    def remember(self, conn: Connection, cloud_name: str, allowance: AdminAllowance) -> None:
        """Store what an answer reported (the lowest figure of its window wins)."""
        conn.execute("allowance.remember", {
            "cloud_name": cloud_name, "remaining": allowance.remaining, "allowed": allowance.limit,
            "reset_at": allowance.reset_at, "seen_at": allowance.seen_at})

    def recall(self, conn: Connection, cloud_name: str, max_age_seconds: float) -> AdminAllowance | None:
        """The figure seen within `max_age_seconds`, unless its window has reset since."""
        row = conn.one("allowance.recall", {"cloud_name": cloud_name, "max_age_seconds": max_age_seconds})
        if row is None:
            return None
        return AdminAllowance(row["remaining"], row["reset_at"], row["allowed"], row["seen_at"])
