"""Cloudinary → database: signed notifications (webhook or poll channel) applied to media_files."""

from mediasync.services.notifications.service import (
    DrainResult,
    IngestResult,
    NotificationRepairs,
    NotificationService,
    NotificationStatus,
)
from mediasync.services.notifications.signature import RejectedNotification, SignatureVerifier, sign

__all__ = ["DrainResult", "IngestResult", "NotificationRepairs", "NotificationService", "NotificationStatus",
           "RejectedNotification", "SignatureVerifier", "sign"]
