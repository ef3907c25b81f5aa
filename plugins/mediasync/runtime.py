"""Wire the services — the one place entry points (DAGs, plugin API, CLI) get them.

Two sources, chosen by the entry point rather than guessed: inside Airflow (DAG tasks, the
plugin) the hooks read the connections `mediasync_db` and `cloudinary_default` (falling back to
the env vars only where a connection is not defined); the CLI reads the env vars and never
imports Airflow. Nothing connects until a service is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediasync.clients.cloudinary import CloudinaryClient
from mediasync.config import Settings
from mediasync.db import Database, PooledDatabase, database_url_from_env
from mediasync.services.cleanup_queue import CleanupQueue
from mediasync.services.deletions import DeletionService
from mediasync.services.media_library import MediaLibraryService
from mediasync.services.notifications import NotificationService
from mediasync.services.notifications.channel import NotificationChannel
from mediasync.services.queue_processor import CleanupQueueProcessor
from mediasync.services.reconcile import Reconciler
from mediasync.services.retention import Retention
from mediasync.store import AssetStore


@dataclass
class Services:
    settings: Settings
    db: Database
    store: AssetStore
    media: MediaLibraryService
    processor: CleanupQueueProcessor
    reconciler: Reconciler
    retention: Retention
    deletions: DeletionService
    notifications: NotificationService

    @property
    def queue(self) -> CleanupQueue:
        return self.processor.queue


def build_services(db: Database, store: AssetStore, settings: Settings | None = None) -> Services:
    """The services over one database and one asset store."""
    settings = settings or Settings.from_env()
    processor = CleanupQueueProcessor(db, store, settings)
    return Services(
        settings=settings, db=db, store=store,
        media=MediaLibraryService(db, store, settings, queue=processor.queue),
        processor=processor,
        reconciler=Reconciler(db, store, settings, processor=processor),
        retention=Retention(db, settings=settings),
        deletions=DeletionService(db, store, settings),
        notifications=NotificationService(db, settings,
                                          channel=store if isinstance(store, NotificationChannel) else None),
    )


def services_from_env(*, pooled: bool = False) -> Services:
    """For the CLI: MEDIASYNC_DATABASE_URL (or SUPABASE_DB_URL) and CLOUDINARY_URL (or CLOUDINARY_*)."""
    settings = Settings.from_env()
    url = database_url_from_env()
    db = (PooledDatabase(url, max_attempts=settings.max_attempts) if pooled
          else Database(url, max_attempts=settings.max_attempts))
    return build_services(db, CloudinaryClient.from_env(), settings)


def services_from_airflow(*, pooled: bool = False) -> Services:
    """For DAG tasks and the plugin: the Airflow connections `mediasync_db` and `cloudinary_default`."""
    from mediasync.hooks.cloudinary import CloudinaryHook
    from mediasync.hooks.postgres import MediasyncDatabaseHook

    return build_services(MediasyncDatabaseHook().get_conn(pooled=pooled), CloudinaryHook().get_conn())
