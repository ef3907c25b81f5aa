"""Settings the database reads itself: the cleanup queue's `max_attempts` reaches the enqueue
trigger (plain SQL `DELETE`s included) through `mediasync.runtime_settings`, written from
`Settings` by `mediasync db upgrade` and by the cleanup-queue processor."""

from __future__ import annotations

from mediasync.db import Connection


class RuntimeSettingsRepository:
    def publish_max_attempts(self, conn: Connection, max_attempts: int) -> bool:
        """Store MEDIASYNC_MAX_ATTEMPTS for every path that enqueues; True when it changed."""
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        return conn.execute("runtime_settings.publish", {"name": "max_attempts", "value": str(int(max_attempts))}) > 0

    def max_attempts(self, conn: Connection) -> int:
        return int(conn.scalar("runtime_settings.get", {"name": "max_attempts"}) or 3)
