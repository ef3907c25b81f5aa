"""`MediasyncDatabaseHook`: the Airflow face of mediasync's database (connection `mediasync_db`).

Inside Airflow the connection wins; when it is not defined the hook falls back to
MEDIASYNC_DATABASE_URL / SUPABASE_DB_URL. It hands out a `mediasync.db.Database`, the same
database edge the CLI uses.
"""

from __future__ import annotations

from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook

from mediasync.config import Settings
from mediasync.db import Database, PooledDatabase, database_url_from_env, dsn_from_airflow_connection


class MediasyncDatabaseHook(BaseHook):
    conn_name_attr = "mediasync_conn_id"
    default_conn_name = "mediasync_db"
    conn_type = "postgres"
    hook_name = "mediasync database"

    def __init__(self, mediasync_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.mediasync_conn_id = mediasync_conn_id

    def database_url(self) -> str:
        """The connection's DSN; the env vars only when the connection is not defined."""
        try:
            conn = self.get_connection(self.mediasync_conn_id)
        except AirflowNotFoundException:
            return database_url_from_env()
        return dsn_from_airflow_connection(conn)

    def get_conn(self, pooled: bool = False) -> Database:
        """The database; `pooled` for long-lived processes (the plugin's API)."""
        max_attempts = Settings.from_env().max_attempts
        if pooled:
            return PooledDatabase(self.database_url(), max_attempts=max_attempts)
        return Database(self.database_url(), max_attempts=max_attempts)
