"""What routes depend on: the services (built on first use, never at import or plugin load)
and the live-change broadcaster, both kept on the app's state.

Exactly one of each per process, whatever the concurrency at start-up: the first requests a fresh
API server sees arrive together (the page opens its event stream and its listings at once), and
sync dependencies run on many worker threads. Built unguarded, every racing thread made its own
services — its own pool of connections — and its own LISTEN connection, none ever closed. So they
are built under a lock (checked again inside it), once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from mediasync.config import Settings
from mediasync.errors import MediasyncError
from mediasync.runtime import Services
from mediasync.services.live import MediaChangeBroadcaster


class AppState:
    """Lazily built collaborators of one app instance."""

    def __init__(self, services_factory: Callable[[], Services] | None) -> None:
        self._factory = services_factory
        self._services: Services | None = None
        self._live: MediaChangeBroadcaster | None = None
        self._lock = threading.Lock()

    def services(self) -> Services:
        if self._services is None:
            with self._lock:
                if self._services is None:
                    self._services = self._build()
        return self._services

    def _build(self) -> Services:
        if self._factory is not None:
            return self._factory()
        from mediasync.runtime import services_from_airflow  # reads Airflow connections: first use only

        return services_from_airflow(pooled=True)

    def max_upload_bytes(self) -> int:
        """The upload limit, even when the services cannot be built yet (their error comes later,
        from the route, as JSON)."""
        try:
            return self.services().settings.max_upload_bytes
        except MediasyncError:
            try:
                return Settings.from_env().max_upload_bytes
            except MediasyncError:
                return Settings.max_upload_bytes

    def live(self) -> MediaChangeBroadcaster:
        if self._live is None:
            db = self.services().db
            with self._lock:
                if self._live is None:
                    self._live = MediaChangeBroadcaster(db)
        return self._live


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.mediasync
    return state


def get_services(request: Request) -> Services:
    return _state(request).services()


def get_live(request: Request) -> MediaChangeBroadcaster:
    return _state(request).live()


ServicesDep = Annotated[Services, Depends(get_services)]
LiveDep = Annotated[MediaChangeBroadcaster, Depends(get_live)]
