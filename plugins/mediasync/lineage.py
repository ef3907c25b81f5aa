"""Every Airflow Asset the DAGs use, declared once: the `media_files` table, the cleanup queue, the
Cloudinary poll channel and each managed Cloudinary folder. Other teams' DAGs can be scheduled on
"the media library changed" (`schedule=[MEDIA_FILES]`), and Airflow's asset view shows the flow
between mediasync's DAGs.

An asset that carries an `AssetWatcher` must be the same object wherever it is referenced (the
schedule, task inlets and outlets, in any DAG file): Airflow keeps one declaration per asset
(name, URI), the last it meets, and removes the watchers of an active asset whose declaration has
none. A bare `Asset(name=..., uri=...)` used as an inlet elsewhere silently switches the
event-driven cleanup off. `tests/acceptance/test_dags.py` fails the build when that happens.

Built from environment settings only (no database or network at DAG parse); a malformed setting
falls back to the default here and fails with its one-line error where it is used.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from mediasync.config import Settings
from mediasync.errors import ConfigError
from mediasync.triggers.notifications import CloudinaryNotificationTrigger
from mediasync.triggers.queue import CleanupQueueTrigger

GROUP = "mediasync"

MEDIA_FILES = Asset(name="mediasync_media_files", uri="mediasync://database/public/media_files", group=GROUP,
                    extra={"table": "public.media_files"})

# The queue, with the watcher that turns its notification (one per statement that queues rows) into
# an asset event: `mediasync_cleanup_queue` is scheduled on it.
CLEANUP_QUEUE = Asset(
    name="mediasync_cleanup_queue", uri="mediasync://database/public/cloudinary_cleanup_queue", group=GROUP,
    extra={"table": "public.cloudinary_cleanup_queue"},
    watchers=[AssetWatcher(name="mediasync_cleanup_queue_notifications", trigger=CleanupQueueTrigger())],
)


def _settings() -> Settings:
    """The settings from the environment, or the defaults when one is malformed."""
    try:
        return Settings.from_env()
    except ConfigError:
        return Settings()


# Cloudinary's poll channel, watched by the triggerer: `mediasync_cloudinary_notifications` runs when it
# holds messages.
NOTIFICATION_CHANNEL = Asset(
    name="mediasync_cloudinary_notification_channel", uri="mediasync_cloudinary_notification_channel", group=GROUP,
    watchers=[AssetWatcher(name="cloudinary_poll_channel",
                           trigger=CloudinaryNotificationTrigger(channel=_settings().notification_channel))],
)


def managed_folders() -> list[Asset]:
    """One asset per Cloudinary folder mediasync owns (`MEDIASYNC_MANAGED_FOLDERS`)."""
    return [Asset(name=f"cloudinary_{folder}", uri=f"cloudinary://managed-folder/{folder}", group=GROUP,
                  extra={"folder": folder}) for folder in _settings().owned_folders]


WATCHED = (CLEANUP_QUEUE, NOTIFICATION_CHANNEL)  # the assets that carry watchers
