"""How many connections mediasync holds on a test's database, counted from a connection of the
test's own (not named `mediasync…`, so it does not count itself)."""

from __future__ import annotations

import psycopg


def mediasync_connections(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as probe:
        row = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND application_name LIKE 'mediasync%%'").fetchone()
    assert row is not None
    return int(row[0])
