"""Driver errors → the project's errors, in one place.

Everything that runs SQL goes through `mediasync.db`, which calls `map_driver_error` on any
psycopg error, so nothing above the repositories imports psycopg to handle a failure. Messages
keep the server's reason (one line) but never the DSN's password.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg

from mediasync.db.dsn import redact_dsn, scrub
from mediasync.errors import (
    ConfigError,
    Conflict,
    DatabaseError,
    DatabaseUnavailable,
    InvalidInput,
    MediasyncError,
    SchemaNotReady,
)

# SQLSTATE classes: 08 connection exception, 57P0x operator intervention (shutdown), 53 insufficient resources.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53")
_SCHEMA_MISSING = (pg.UndefinedTable, pg.UndefinedFunction, pg.InvalidSchemaName, pg.UndefinedColumn)


def _reason(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = (primary or str(exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def map_driver_error(exc: psycopg.Error, dsn: str, *, connecting: bool = False) -> MediasyncError:
    """One psycopg error → one project error, with a one-line, password-free message."""
    reason = scrub(_reason(exc), dsn)
    error = _classify(exc, dsn, reason, connecting)
    error.reason = reason
    return error


def _classify(exc: psycopg.Error, dsn: str, reason: str, connecting: bool) -> MediasyncError:
    where = redact_dsn(dsn)
    state = exc.sqlstate or ""
    if isinstance(exc, psycopg.ProgrammingError) and connecting:
        return ConfigError("database URL is malformed: expected postgresql://user:password@host:port/dbname "
                           "(percent-encode special characters in the password)")
    if connecting:
        return DatabaseUnavailable(f"cannot connect to PostgreSQL at {where}: {reason}")
    if (isinstance(exc, psycopg.OperationalError) and not state) or state.startswith(_UNAVAILABLE_STATES):
        return DatabaseUnavailable(f"lost the connection to PostgreSQL at {where}: {reason}")
    if isinstance(exc, _SCHEMA_MISSING):
        return SchemaNotReady(f"the database at {where} is not set up for mediasync ({reason}); "
                              f"run `mediasync db upgrade`")
    if isinstance(exc, pg.QueryCanceled):
        return DatabaseUnavailable(f"PostgreSQL cancelled the statement: {reason}")
    if isinstance(exc, psycopg.DataError):
        return InvalidInput(f"the database refused a value: {reason}", 422)
    if isinstance(exc, psycopg.IntegrityError):
        return Conflict(f"the change conflicts with existing data: {reason}")
    if isinstance(exc, pg.SerializationFailure | pg.DeadlockDetected | pg.LockNotAvailable):
        return DatabaseUnavailable(f"PostgreSQL could not complete the transaction now: {reason}")
    return DatabaseError(f"PostgreSQL error {state or type(exc).__name__}: {reason}")
