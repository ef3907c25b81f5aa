"""Wire the services from configuration — the one place entry points (DAGs, API, CLI) get them.

Inside Airflow the connections `mediasync_db` and `cloudinary_default` win; elsewhere the env vars.
Nothing connects until a service is used.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from mediasync.config import Settings
from mediasync.hooks.postgres import Database, PooledDatabase
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


def cloudinary_store() -> object:
    """Inside Airflow (or with AIRFLOW_CONN_CLOUDINARY_DEFAULT set) the hook, which reads the
    `cloudinary_default` connection; elsewhere the client straight from CLOUDINARY_* env vars.
    Both run the same client code; the split only spares CLI users an Airflow import."""
    if "airflow" in sys.modules or os.environ.get("AIRFLOW_CONN_CLOUDINARY_DEFAULT"):
        from mediasync.hooks.cloudinary import CloudinaryHook

        return CloudinaryHook()
    from mediasync.clients.cloudinary import CloudinaryClient

    return CloudinaryClient.from_env()


def build_services(settings: Settings | None = None, *, database_url: str | None = None,
                   store: object | None = None, pooled: bool = False) -> Services:
    """`pooled` for long-lived processes (the API): transactions reuse a bounded connection pool."""
    settings = settings or Settings.from_env()
    db = Database.from_environment(database_url)
    if pooled:
        db = PooledDatabase(db.url, max_attempts=db.max_attempts)
    if store is None:
        store = cloudinary_store()
    processor = CleanupQueueProcessor(db, store, settings)
    return Services(
        settings=settings, db=db, store=store,
        media=MediaLibraryService(db, store, settings, queue=processor.queue),
        processor=processor,
        reconciler=Reconciler(db, store, settings, processor=processor),
        retention=Retention(db),
    )
