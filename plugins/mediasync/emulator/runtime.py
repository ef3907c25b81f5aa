"""One running emulator's parts — store, credentials, settings, faults, meter, counters,
notifier, actions — held together so every router reaches them through `request.app.state`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mediasync.emulator.actions import Actions
from mediasync.emulator.backups import BackupStore
from mediasync.emulator.chunks import ChunkedUploads
from mediasync.emulator.config import Credentials, Faults, Settings
from mediasync.emulator.gate import AdminMeter
from mediasync.emulator.notifications import Notifier
from mediasync.emulator.state import AssetStore, iso_now

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass
class Counters:
    api_requests: int = 0  # every Upload/Admin API request, faulted ones included
    upload_api_calls: int = 0
    notification_api_calls: int = 0
    delivered_bytes: int = 0  # what delivery URLs served: the usage API's bandwidth
    first_request_at: float | None = None  # epoch seconds the first API request arrived (start-up benchmarks)

    def reset(self) -> None:
        self.api_requests = self.upload_api_calls = self.notification_api_calls = self.delivered_bytes = 0
        self.first_request_at = None


class Emulator:
    """The app plus its state; one per data dir."""

    def __init__(self, data_dir: Path, credentials: Credentials | None = None, faults: Faults | None = None,
                 public_url: str | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        if public_url:
            self.settings.public_url = public_url.rstrip("/")
        self.initial_settings = replace(self.settings)
        self.state = AssetStore(Path(data_dir))
        self.backups = BackupStore(self.state)  # deleted assets with a backup leave placeholders
        self.credentials = credentials or Credentials()
        self.faults = faults or Faults()
        self.meter = AdminMeter()
        self.counters = Counters()
        self.notifier = Notifier(self)
        self.actions = Actions(self)
        self.chunks = ChunkedUploads(Path(data_dir) / "chunks", self.settings.max_asset_bytes)
        self.created_at = iso_now()  # the "product environment's" creation, as the config endpoint reports it
        self._app: FastAPI | None = None

    @property
    def public_url(self) -> str | None:
        return self.settings.public_url

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            from mediasync.emulator.app import build_app

            self._app = build_app(self)
        return self._app

    def reset(self) -> None:
        """Empty store, default presets, no triggers or messages, counters zero, no faults, and the
        run-time settings (folder mode, backups, webhook retry delays, signature algorithm) as started."""
        self.notifier.reset()
        self.state.reset()
        self.backups.reset()
        self.meter.reset()
        self.counters.reset()
        self.actions.deletions.reset()
        self.chunks.reset()
        self.faults.latency_ms, self.faults.fail_rate, self.faults.rate_limit = 0, 0.0, 0
        self.faults.rate_limit_window_seconds = 3600
        for name in ("folder_mode", "backups", "webhook_retry_delays", "notification_signature_algorithm"):
            setattr(self.settings, name, getattr(self.initial_settings, name))

    def close(self) -> None:
        self.notifier.stop()
        self.state.close()
