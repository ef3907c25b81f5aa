"""Wire the services — the one place entry points (DAGs, plugin API, CLI) get them.

Two sources, chosen by the entry point rather than guessed: inside Airflow (DAG tasks, the
plugin) the hooks read the connections `mediasync_db` and `cloudinary_default` (falling back to
the env vars only where a connection is not defined); the CLI reads the env vars and never
imports Airflow. Nothing connects until a service is used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mediasync.config import Settings

if TYPE_CHECKING:
    from mediasync.db import Database
    from mediasync.services.deletions import DeletionService
    from mediasync.services.media_library import MediaLibraryService
    from mediasync.services.notifications import NotificationService
    from mediasync.services.queue import CleanupQueue, CleanupQueueProcessor
    from mediasync.services.reconcile import Reconciler
    from mediasync.services.retention import Retention
    from mediasync.store import AssetStore

T = TypeVar("T")


class Services:
    """The services over one database and one asset store, each built (and its module imported) on
    first use: `mediasync queue process` or a drain task loads the queue's code, not the
    reconciliation's reports (pandas) or the notification models."""

    def __init__(self, settings: Settings, db: Database, store: AssetStore) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()  # the plugin's request threads share one Services

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            built: T = self._built[name]
            return built

    @property
    def processor(self) -> CleanupQueueProcessor:
        from mediasync.services.queue import CleanupQueueProcessor

        return self._once("processor", lambda: CleanupQueueProcessor(self.db, self.store, self.settings))

    @property
    def queue(self) -> CleanupQueue:
        return self.processor.queue

    @property
    def media(self) -> MediaLibraryService:
        from mediasync.services.media_library import MediaLibraryService

        return self._once("media", lambda: MediaLibraryService(self.db, self.store, self.settings, queue=self.queue))

    @property
    def reconciler(self) -> Reconciler:
        from mediasync.services.reconcile import Reconciler

        return self._once("reconciler", lambda: Reconciler(self.db, self.store, self.settings,
                                                           processor=self.processor))

    @property
    def retention(self) -> Retention:
        from mediasync.services.retention import Retention

        return self._once("retention", lambda: Retention(self.db, settings=self.settings))

    @property
    def deletions(self) -> DeletionService:
        from mediasync.services.deletions import DeletionService

        return self._once("deletions", lambda: DeletionService(self.db, self.store, self.settings))

    @property
    def notifications(self) -> NotificationService:
        from mediasync.services.notifications import NotificationService
        from mediasync.services.notifications.channel import NotificationChannel

        channel = self.store if isinstance(self.store, NotificationChannel) else None
        return self._once("notifications", lambda: NotificationService(self.db, self.settings, channel=channel))


def build_services(db: Database, store: AssetStore, settings: Settings | None = None) -> Services:
    """The services over one database and one asset store (each built when first used)."""
    return Services(settings or Settings.from_env(), db, store)


def services_from_env(*, pooled: bool = False) -> Services:
    """For the CLI: MEDIASYNC_DATABASE_URL (or SUPABASE_DB_URL) and CLOUDINARY_URL (or CLOUDINARY_*)."""
    from mediasync.clients.cloudinary import CloudinaryClient
    from mediasync.db import Database, PooledDatabase, database_url_from_env

    settings = Settings.from_env()
    url = database_url_from_env()
    db: Database
    if pooled:  # the pool serves one command, a drain: room for its claim, its statistics and every chunk
        from mediasync.services.queue.config import drain_pool_size

        db = PooledDatabase(url, max_attempts=settings.max_attempts, dedicated=True,
                            max_size=max(PooledDatabase.max_size, drain_pool_size(settings.cleanup_concurrency)))
    else:
        db = Database(url, max_attempts=settings.max_attempts)
    return build_services(db, CloudinaryClient.from_env(), settings)


def services_from_airflow(*, pooled: bool = False) -> Services:
    """For DAG tasks and the plugin: the Airflow connections `mediasync_db` and `cloudinary_default`."""
    from mediasync.hooks.cloudinary import CloudinaryHook
    from mediasync.hooks.postgres import MediasyncDatabaseHook

    return build_services(MediasyncDatabaseHook().get_conn(pooled=pooled), CloudinaryHook().get_conn())
