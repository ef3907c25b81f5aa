"""`MediasyncDatabaseHook`: the Airflow face of mediasync's database (connection `mediasync_db`).

Inside Airflow the connection wins; when it is not defined the hook falls back to
MEDIASYNC_DATABASE_URL / SUPABASE_DB_URL. It hands out a `mediasync.db.Database`, the same
database edge the CLI uses. The connection may be of type `mediasync_postgres` (this hook's form,
declared in `mediasync.provider`, says which Supabase connection each part needs) or a plain
`postgres` one; both are read the same way. The form's Test button says what the DSN connects
through — direct, session pooler or transaction pooler — and what that leaves out.
"""

from __future__ import annotations

from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook

from mediasync.config import Settings
from mediasync.db import Database, PooledDatabase, connection_mode, database_url_from_env, dsn_from_airflow_connection
from mediasync.db.pooling import LISTEN_NEEDS, SESSION_FIX
from mediasync.errors import MediasyncError


class MediasyncDatabaseHook(BaseHook):
    conn_name_attr = "mediasync_conn_id"
    default_conn_name = "mediasync_db"
    conn_type = "mediasync_postgres"
    hook_name = "mediasync database (PostgreSQL / Supabase)"

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

    def test_connection(self) -> tuple[bool, str]:
        """Connect, and say what the DSN connects through and what that means for mediasync."""
        try:
            db = Database(self.database_url())
            kind = connection_mode(db, fresh=True)
        except MediasyncError as exc:
            return False, str(exc)
        if kind.has_sessions:
            return True, f"Connected to {db.describe()}: {kind.mode}; every part of mediasync works through it"
        return True, (f"Connected to {db.describe()}: a transaction pooler. The API, uploads, deletes, the cleanup "
                      f"queue, retention, notifications, reconciliation and db upgrade work through it; "
                      f"{LISTEN_NEEDS} needs a session: {SESSION_FIX}")
