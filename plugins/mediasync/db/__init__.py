"""`mediasync.db`: the one place that talks to PostgreSQL — connections and the bounded pool,
the packaged named queries, execution that maps every driver error to the project's errors,
LISTEN, and DSN handling that never shows a password. Repositories are its only callers."""

from mediasync.db.connection import Connection, Database, Row
from mediasync.db.dsn import database_url_from_env, dsn_from_airflow_connection, redact_dsn
from mediasync.db.pool import PooledDatabase

__all__ = ["Connection", "Database", "PooledDatabase", "Row", "database_url_from_env", "dsn_from_airflow_connection",
           "redact_dsn"]
