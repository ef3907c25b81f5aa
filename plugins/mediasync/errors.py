"""The project's exceptions. Driver and SDK errors are mapped to these at the edges,
so services and entry points never import psycopg or cloudinary to handle a failure."""

from __future__ import annotations

from datetime import datetime


class MediasyncError(Exception):
    """Base of every error mediasync raises on purpose; its message is meant for people."""

    reason: str = ""  # the underlying cause alone (e.g. the server's message), where one is known


class ConfigError(MediasyncError):
    """A setting is missing or malformed; the message names the setting."""


class SessionRequired(ConfigError):
    """The work needs a database session of its own (LISTEN) but the configured connection is a
    transaction pooler; the message names the fix (the direct connection or the session pooler)."""


class DatabaseError(MediasyncError):
    """PostgreSQL answered with an error mediasync did not expect (the message is the server's)."""


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL could not be reached, refused the connection, or the connection was lost."""


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled connection stayed busy for longer than the pool waits: try again shortly."""


class CommitUncertain(DatabaseUnavailable):
    """The connection was lost while COMMIT was on its way: the server may have committed (its
    answer lost with the connection) or not. Only a fresh look at the data can tell."""


class LockLost(DatabaseUnavailable):
    """The connection holding a lock went away mid-work: the holder stops before changing more."""


class SchemaNotReady(DatabaseError):
    """The database lacks mediasync's tables or functions: `mediasync db upgrade` has not run."""


class Conflict(MediasyncError):
    """The change conflicts with the current state (a constraint said no); retrying won't help."""


class MigrationError(MediasyncError):
    """A migration failed or an applied migration no longer matches its file."""


class NotFound(MediasyncError):
    """The requested record does not exist."""


class InvalidInput(MediasyncError):
    """Input was rejected; `status_code` is the HTTP code an API should answer with."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


# --- Asset store (Cloudinary) -------------------------------------------------------------


class StoreError(MediasyncError):
    """A call to the asset store (Cloudinary) failed."""


class StoreTransientError(StoreError):
    """A failure worth retrying soon: network error, timeout, HTTP 5xx."""


class StorePermanentError(StoreError):
    """A failure that retrying will not fix: bad request, not allowed."""


class StoreAuthError(StorePermanentError):
    """Credentials were rejected (HTTP 401/403, bad signature)."""


class StoreRateLimited(StoreError):
    """The store refused the call for exceeding its rate limit (HTTP 420/429).

    `reset_at` is when the limit resets, as the response announced it (None when unknown).
    """

    def __init__(self, message: str, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at
