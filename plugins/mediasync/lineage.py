"""What the DAGs read and change, as Airflow Assets: the `media_files` table and each managed
Cloudinary folder. Other teams' DAGs can be scheduled on "the media library changed"
(`schedule=[MEDIA_FILES]`), and Airflow's asset view shows the flow between mediasync's DAGs.

Built from environment settings only (no database or network at DAG parse); a malformed setting
falls back to the default folder here and fails with its one-line error where it is used.
"""

from __future__ import annotations

from airflow.sdk import Asset

from mediasync.config import Settings
from mediasync.errors import ConfigError

GROUP = "mediasync"
MEDIA_FILES = Asset(name="mediasync_media_files", uri="mediasync://database/public/media_files", group=GROUP,
                    extra={"table": "public.media_files"})
CLEANUP_QUEUE = Asset(name="mediasync_cleanup_queue", uri="mediasync://database/public/cloudinary_cleanup_queue",
                      group=GROUP, extra={"table": "public.cloudinary_cleanup_queue"})


def managed_folders() -> list[Asset]:
    """One asset per Cloudinary folder mediasync owns (`MEDIASYNC_MANAGED_FOLDERS`)."""
    try:
        folders = Settings.from_env().owned_folders
    except ConfigError:
        folders = (Settings.upload_folder,)
    return [Asset(name=f"cloudinary_{folder}", uri=f"cloudinary://managed-folder/{folder}", group=GROUP,
                  extra={"folder": folder}) for folder in folders]
