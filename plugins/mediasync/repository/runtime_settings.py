"""Settings the database reads itself: the enqueue trigger runs for plain SQL too (a `DELETE` typed
in psql), where no connection option says anything. `mediasync.runtime_settings` holds the cleanup
queue's `max_attempts` and the delete brake's thresholds, trash window and undo horizon
(`Settings.database_settings()`), written by `mediasync db upgrade`, every queue drain and every
applied reconciliation."""

from __future__ import annotations

from collections.abc import Mapping

from mediasync.db import Connection


class RuntimeSettingsRepository:
    def publish(self, conn: Connection, values: Mapping[str, str]) -> int:
        """Store each setting; returns how many changed (a no-op for values already stored)."""
        return sum(conn.execute("runtime_settings.publish", {"name": name, "value": value}) > 0
                   for name, value in values.items())

    def publish_max_attempts(self, conn: Connection, max_attempts: int) -> bool:
        """Store MEDIASYNC_MAX_ATTEMPTS for every path that enqueues; True when it changed."""
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        return self.publish(conn, {"max_attempts": str(int(max_attempts))}) > 0

    def all(self, conn: Connection) -> dict[str, str]:
        return {r["name"]: r["value"] for r in conn.all("runtime_settings.all")}
