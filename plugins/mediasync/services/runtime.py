"""Wire the services from configuration — the one place entry points (DAGs, API, CLI) get them.

Inside Airflow the connections `mediasync_db` and `cloudinary_default` win; elsewhere the env vars.
Nothing connects until a service is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediasync.config import Settings
from mediasync.hooks.postgres import Database
from mediasync.services.media_library import MediaLibraryService
from mediasync.services.queue_processor import CleanupQueueProcessor
from mediasync.services.reconciler import Reconciler
from mediasync.services.retention import Retention


@dataclass
class Services:
    settings: Settings
    db: Database
    store: object  # CloudinaryHook (an AssetStore)
    media: MediaLibraryService
    processor: CleanupQueueProcessor
    reconciler: Reconciler
    retention: Retention


def build_services(settings: Settings | None = None, *, database_url: str | None = None,
                   store: object | None = None) -> Services:
    settings = settings or Settings.from_env()
    db = Database.from_environment(database_url)
    if store is None:
        from mediasync.hooks.cloudinary import CloudinaryHook

        store = CloudinaryHook()
    processor = CleanupQueueProcessor(db, store, settings)
    return Services(
        settings=settings, db=db, store=store,
        media=MediaLibraryService(db, store, settings, queue=processor.queue),
        processor=processor,
        reconciler=Reconciler(db, store, settings, processor=processor),
        retention=Retention(db),
    )
