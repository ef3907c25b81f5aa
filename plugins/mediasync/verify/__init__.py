"""`mediasync verify`: an acceptance suite that runs against the configured database and
Cloudinary, through the services and repositories (no SQL of its own)."""

from mediasync.verify.checks import CheckResult, SyncVerifier, tiny_png

__all__ = ["CheckResult", "SyncVerifier", "tiny_png"]
