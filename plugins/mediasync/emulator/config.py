"""What an emulator instance is: its credentials, its folder mode, its safety switches and the
faults it injects. One place, so the CLI, the test harness and the app agree on defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

FOLDER_MODES = ("fixed", "dynamic")
DEFAULT_CLOUD_NAME = "demo"
DEFAULT_API_KEY = "mediasync-key"
DEFAULT_API_SECRET = "mediasync-secret"
# Cloudinary retries a webhook that did not answer 2xx about 3, 6 and 9 minutes later.
CLOUDINARY_WEBHOOK_RETRY_DELAYS = (180.0, 360.0, 540.0)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class Credentials:
    cloud_name: str = DEFAULT_CLOUD_NAME
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET


@dataclass
class Faults:
    """Changeable at run time through the control endpoint."""

    latency_ms: int = 0
    fail_rate: float = 0.0
    rate_limit: int = 0  # Admin API calls per window; 0 = unlimited
    rate_limit_window_seconds: int = 3600  # Cloudinary's is an hour; tests shorten it


@dataclass
class Settings:
    """Behaviour switches fixed at start (folder mode, backups and notification delays also at run time)."""

    folder_mode: str = "fixed"
    backups: bool = False  # the account's automatic backup: deleted assets leave restorable placeholders
    allow_remote_fetch: bool = False
    control_token: str | None = None
    public_url: str | None = None  # delivery host browsers can reach (e.g. behind Docker)
    webhook_retry_delays: tuple[float, ...] = CLOUDINARY_WEBHOOK_RETRY_DELAYS
    webhook_timeout_seconds: float = 10.0
    notification_signature_algorithm: str = "sha1"  # or "sha256", as an account can be configured
    max_image_pixels: int = 100_000_000  # decoding a claimed 4 294 967 295² image is refused, not tried
    max_asset_bytes: int = 4 * 1024 ** 3  # the "plan's" largest asset (a chunked upload's total); usage reports it

    def __post_init__(self) -> None:
        if self.folder_mode not in FOLDER_MODES:
            raise ValueError(f"folder mode must be one of {', '.join(FOLDER_MODES)}, not {self.folder_mode!r}")
        if self.notification_signature_algorithm not in ("sha1", "sha256"):
            raise ValueError("notification signature algorithm must be sha1 or sha256")


def credentials_from_url(url: str) -> Credentials:
    """`cloudinary://KEY:SECRET@CLOUD?...` as the SDK reads it."""
    parsed = urlparse(url)
    if parsed.scheme != "cloudinary" or not parsed.hostname:
        raise ValueError("CLOUDINARY_URL must look like cloudinary://API_KEY:API_SECRET@CLOUD_NAME")
    return Credentials(cloud_name=parsed.hostname, api_key=unquote(parsed.username or DEFAULT_API_KEY),
                       api_secret=unquote(parsed.password or DEFAULT_API_SECRET))


def credentials_from_env(environ: Mapping[str, str] | None = None) -> Credentials:
    """`MEDIASYNC_EMULATOR_CLOUD/_API_KEY/_API_SECRET`, else `CLOUDINARY_URL` (one variable then
    configures the SDK and the emulator alike), else the defaults."""
    env = os.environ if environ is None else environ
    base = credentials_from_url(env["CLOUDINARY_URL"]) if env.get("CLOUDINARY_URL") else Credentials()
    return Credentials(cloud_name=env.get("MEDIASYNC_EMULATOR_CLOUD") or base.cloud_name,
                       api_key=env.get("MEDIASYNC_EMULATOR_API_KEY") or base.api_key,
                       api_secret=env.get("MEDIASYNC_EMULATOR_API_SECRET") or base.api_secret)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")
