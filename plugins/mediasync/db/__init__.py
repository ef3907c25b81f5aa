"""`mediasync.db`: the one place that talks to PostgreSQL — connections and the bounded pool,
the packaged named queries, execution that maps every driver error to the project's errors,
LISTEN, locks that hold through any pooler, what a DSN connects through (direct, session pooler,
transaction pooler), and DSN handling that never shows a password. Repositories are its only
callers."""

from mediasync.db.connection import Connection, Database, Row
from mediasync.db.dsn import database_url_from_env, dsn_from_airflow_connection, redact_dsn
from mediasync.db.locks import HeldLock, held_lock
from mediasync.db.pool import PooledDatabase
from mediasync.db.pooling import ConnectionKind, ConnectionMode, connection_mode, require_session

__all__ = ["Connection", "ConnectionKind", "ConnectionMode", "Database", "HeldLock", "PooledDatabase", "Row",
           "connection_mode", "database_url_from_env", "dsn_from_airflow_connection", "held_lock", "redact_dsn",
           "require_session"]
