"""Settings read from the environment, validated once, failing fast with the setting's name.

Connections (database, Cloudinary) are resolved by the hooks, where Airflow connections take
precedence over these env vars; everything else lives here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from mediasync.errors import ConfigError

T = TypeVar("T")
FolderMode = Literal["auto", "fixed", "dynamic"]
SignatureAlgorithm = Literal["sha1", "sha256"]

DATABASE_URL_VARS = ("MEDIASYNC_DATABASE_URL", "SUPABASE_DB_URL")
# Cloudinary's limits on one Upload API request: the largest file, and the smallest part of a
# chunked upload but the last ("All parts except EOF-chunk must be larger than 5mb").
CLOUDINARY_MAX_REQUEST_BYTES = 100 * 1024 * 1024
CLOUDINARY_MIN_CHUNK_BYTES = 5 * 1024 * 1024
SUPABASE_URL_VARS = ("SUPABASE_URL", "NEXT_PUBLIC_SUPABASE_URL")


def _read(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], check: Callable[[T], bool],
          rule: str) -> T:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is malformed: expected {rule}") from None
    if not check(value):
        raise ConfigError(f"{name}={raw!r} is out of range: expected {rule}")
    return value


def first_env(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first non-empty value among `names`."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True)
class Settings:
    upload_preset: str = "tap2go-uploads"
    upload_folder: str = "main-uploads"
    cleanup_batch_size: int = 100
    cleanup_concurrency: int = 8  # chunks (Admin calls, or their destroy fallback) in flight per drain
    cleanup_destroy_concurrency: int = 20  # Upload API destroy calls in flight when the Admin allowance is low
    max_attempts: int = 3
    retention_days: int = 30
    reconcile_grace_minutes: int = 60
    reconcile_max_delete_fraction: float = 0.05
    reconcile_admin_api_reserve: int = 50
    reconcile_listing_concurrency: int = 16  # cursors a full listing runs at once over upload-time ranges
    reconcile_full_every_days: int = 7  # auto runs list in full this often; incremental in between
    max_upload_bytes: int = 100 * 1024 * 1024
    # Larger files go to Cloudinary in parts (its single-request limit is 100 MB), each this big.
    chunked_upload_threshold_bytes: int = 100 * 1024 * 1024
    chunked_upload_chunk_bytes: int = 20 * 1024 * 1024
    supabase_url: str | None = None
    supabase_service_role_key: str | None = None
    supabase_report_bucket: str = "mediasync-reports"
    report_dir: str = ".mediasync/reports"
    managed_folders: tuple[str, ...] = ()  # empty: just the upload folder (see `owned_folders`)
    cloudinary_folder_mode: FolderMode = "auto"
    adopt_external_uploads: bool = True
    notification_signature_algorithm: SignatureAlgorithm = "sha1"
    notification_max_age_seconds: int = 7200  # as the SDK's verify_notification_signature(valid_for=)
    notification_max_body_bytes: int = 1024 * 1024
    notification_channel: str = "mediasync"  # the poll channel (poll://<channel> triggers)
    # The delete brake (the database reads these through mediasync.runtime_settings; 0 disables a rule).
    delete_hold_threshold: int = 1000  # a batch of more assets is held
    delete_hold_fraction: float = 0.1  # ... or of more than this fraction of the library's active assets
    delete_hold_window: int = 5000  # ... or when flowing batches of the last hour would pass this many
    delete_delay_seconds: int = 0  # the trash window before any Cloudinary call
    undo_days: int = 30  # how long a batch can be undone (its journal is kept this long)
    alert_notifier: str | None = None  # dotted path of an Airflow notifier (class or instance) for held batches
    alert_notifier_kwargs: str = "{}"  # JSON keyword arguments when the notifier is a class

    def database_settings(self) -> dict[str, str]:
        """The settings the database reads itself (triggers run for plain SQL too), as stored in
        mediasync.runtime_settings."""
        return {"max_attempts": str(self.max_attempts), "delete_hold_threshold": str(self.delete_hold_threshold),
                "delete_hold_fraction": f"{self.delete_hold_fraction:.9f}".rstrip("0").rstrip(".") or "0",
                "delete_hold_window": str(self.delete_hold_window),
                "delete_delay_seconds": str(self.delete_delay_seconds), "undo_days": str(self.undo_days)}

    @property
    def owned_folders(self) -> tuple[str, ...]:
        """The Cloudinary folders mediasync owns: MEDIASYNC_MANAGED_FOLDERS, else the upload folder."""
        return self.managed_folders or (self.upload_folder,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        positive = "a positive integer"
        return cls(
            upload_preset=env.get("MEDIASYNC_UPLOAD_PRESET", "").strip() or cls.upload_preset,
            upload_folder=env.get("MEDIASYNC_UPLOAD_FOLDER", "").strip() or cls.upload_folder,
            cleanup_batch_size=_read(env, "MEDIASYNC_CLEANUP_BATCH_SIZE", cls.cleanup_batch_size, int,
                                     lambda v: 1 <= v <= 100, "an integer from 1 to 100"),
            cleanup_concurrency=_read(env, "MEDIASYNC_CLEANUP_CONCURRENCY", cls.cleanup_concurrency, int,
                                      lambda v: 1 <= v <= 32, "an integer from 1 to 32"),
            cleanup_destroy_concurrency=_read(env, "MEDIASYNC_CLEANUP_DESTROY_CONCURRENCY",
                                              cls.cleanup_destroy_concurrency, int, lambda v: 1 <= v <= 64,
                                              "an integer from 1 to 64"),
            max_attempts=_read(env, "MEDIASYNC_MAX_ATTEMPTS", cls.max_attempts, int, lambda v: v >= 1, positive),
            retention_days=_read(env, "MEDIASYNC_RETENTION_DAYS", cls.retention_days, int, lambda v: v >= 1, positive),
            reconcile_grace_minutes=_read(env, "MEDIASYNC_RECONCILE_GRACE_MINUTES", cls.reconcile_grace_minutes,
                                          int, lambda v: v >= 0, "a non-negative integer"),
            reconcile_max_delete_fraction=_read(env, "MEDIASYNC_RECONCILE_MAX_DELETE_FRACTION",
                                                cls.reconcile_max_delete_fraction, float,
                                                lambda v: 0 <= v <= 1, "a number from 0 to 1"),
            reconcile_admin_api_reserve=_read(env, "MEDIASYNC_RECONCILE_ADMIN_API_RESERVE",
                                              cls.reconcile_admin_api_reserve, int, lambda v: v >= 0,
                                              "a non-negative integer"),
            reconcile_listing_concurrency=_read(env, "MEDIASYNC_RECONCILE_LISTING_CONCURRENCY",
                                                cls.reconcile_listing_concurrency, int, lambda v: 1 <= v <= 64,
                                                "an integer from 1 to 64"),
            reconcile_full_every_days=_read(env, "MEDIASYNC_RECONCILE_FULL_EVERY_DAYS", cls.reconcile_full_every_days,
                                            int, lambda v: v >= 0, "a non-negative integer"),
            max_upload_bytes=_read(env, "MEDIASYNC_MAX_UPLOAD_BYTES", cls.max_upload_bytes, int,
                                   lambda v: v >= 1, positive),
            chunked_upload_threshold_bytes=_read(env, "MEDIASYNC_CHUNKED_UPLOAD_THRESHOLD_BYTES",
                                                 cls.chunked_upload_threshold_bytes, int,
                                                 lambda v: 1 <= v <= CLOUDINARY_MAX_REQUEST_BYTES,
                                                 f"an integer from 1 to {CLOUDINARY_MAX_REQUEST_BYTES}"),
            chunked_upload_chunk_bytes=_read(env, "MEDIASYNC_CHUNKED_UPLOAD_CHUNK_BYTES",
                                             cls.chunked_upload_chunk_bytes, int, _chunk_size_fits,
                                             f"an integer from {CLOUDINARY_MIN_CHUNK_BYTES} to "
                                             f"{CLOUDINARY_MAX_REQUEST_BYTES}"),
            supabase_url=first_env(env, SUPABASE_URL_VARS),
            supabase_service_role_key=env.get("SUPABASE_SERVICE_ROLE_KEY", "").strip() or None,
            supabase_report_bucket=env.get("MEDIASYNC_REPORT_BUCKET", "").strip() or cls.supabase_report_bucket,
            report_dir=env.get("MEDIASYNC_REPORT_DIR", "").strip() or cls.report_dir,
            managed_folders=_read(env, "MEDIASYNC_MANAGED_FOLDERS", (), _folder_list, bool,
                                  "comma-separated folder names (letters, digits, '-', '_', '/')"),
            cloudinary_folder_mode=_read(env, "MEDIASYNC_CLOUDINARY_FOLDER_MODE", "auto", _folder_mode,
                                         lambda v: True, "auto, fixed or dynamic"),
            adopt_external_uploads=_read(env, "MEDIASYNC_ADOPT_EXTERNAL_UPLOADS", True, _boolean,
                                         lambda v: True, "true or false"),
            notification_signature_algorithm=_read(env, "MEDIASYNC_NOTIFICATION_SIGNATURE_ALGORITHM", "sha1",
                                                   _signature_algorithm, lambda v: True, "sha1 or sha256"),
            notification_max_age_seconds=_read(env, "MEDIASYNC_NOTIFICATION_MAX_AGE_SECONDS",
                                               cls.notification_max_age_seconds, int, lambda v: v >= 1, positive),
            notification_max_body_bytes=_read(env, "MEDIASYNC_NOTIFICATION_MAX_BODY_BYTES",
                                              cls.notification_max_body_bytes, int, lambda v: v >= 1024,
                                              "an integer of at least 1024"),
            notification_channel=env.get("MEDIASYNC_NOTIFICATION_CHANNEL", "").strip() or cls.notification_channel,
            delete_hold_threshold=_read(env, "MEDIASYNC_DELETE_HOLD_THRESHOLD", cls.delete_hold_threshold, int,
                                        lambda v: v >= 0, "a non-negative integer (0 turns the rule off)"),
            delete_hold_fraction=_read(env, "MEDIASYNC_DELETE_HOLD_FRACTION", cls.delete_hold_fraction, float,
                                       lambda v: 0 <= v <= 1, "a number from 0 to 1 (0 turns the rule off)"),
            delete_hold_window=_read(env, "MEDIASYNC_DELETE_HOLD_WINDOW", cls.delete_hold_window, int,
                                     lambda v: v >= 0, "a non-negative integer (0 turns the rule off)"),
            delete_delay_seconds=_read(env, "MEDIASYNC_DELETE_DELAY_SECONDS", cls.delete_delay_seconds, int,
                                       lambda v: 0 <= v <= 30 * 86400, "seconds from 0 to 2592000 (30 days)"),
            undo_days=_read(env, "MEDIASYNC_UNDO_DAYS", cls.undo_days, int, lambda v: v >= 1, positive),
            alert_notifier=env.get("MEDIASYNC_ALERT_NOTIFIER", "").strip() or None,
            alert_notifier_kwargs=_read(env, "MEDIASYNC_ALERT_NOTIFIER_KWARGS", cls.alert_notifier_kwargs,
                                        _json_object, lambda v: True, "a JSON object"),
        )


_FOLDER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/-]*$")


def _folder_list(raw: str) -> tuple[str, ...]:
    folders = tuple(dict.fromkeys(f.strip().strip("/") for f in raw.split(",") if f.strip().strip("/")))
    if not folders or not all(_FOLDER_NAME.match(f) and "//" not in f for f in folders):
        raise ValueError(raw)
    return folders


def _chunk_size_fits(size: int) -> bool:
    return CLOUDINARY_MIN_CHUNK_BYTES <= size <= CLOUDINARY_MAX_REQUEST_BYTES


def _folder_mode(raw: str) -> FolderMode:
    mode = raw.lower()
    if mode not in ("auto", "fixed", "dynamic"):
        raise ValueError(raw)
    return mode  # type: ignore[return-value]


def _signature_algorithm(raw: str) -> SignatureAlgorithm:
    algorithm = raw.lower().replace("-", "")
    if algorithm not in ("sha1", "sha256"):
        raise ValueError(raw)
    return algorithm  # type: ignore[return-value]


def _json_object(raw: str) -> str:
    import json

    if not isinstance(json.loads(raw), dict):
        raise ValueError(raw)
    return raw


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)
