"""What routes depend on: the services (built on first use, never at import or plugin load)
and the live-change broadcaster, both kept on the app's state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

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

    def services(self) -> Services:
        if self._services is None:
            if self._factory is None:
                from mediasync.runtime import services_from_airflow  # reads Airflow connections: first use only

                self._services = services_from_airflow(pooled=True)
            else:
                self._services = self._factory()
        return self._services

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
            self._live = MediaChangeBroadcaster(self.services().db)
        return self._live


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.mediasync
    return state


def get_services(request: Request) -> Services:
    return _state(request).services()


def get_live(request: Request) -> MediaChangeBroadcaster:
    return _state(request).live()


def requester(request: Request) -> str:
    """Who is asking, as deletion batches and decisions record it: the Airflow user's name."""
    user = getattr(request.state, "mediasync_user", None)
    name = None
    if user is not None:
        get_name = getattr(user, "get_name", None)
        name = get_name() if callable(get_name) else getattr(user, "username", None)
        if name is None and isinstance(user, str):
            name = user
    return f"{name or 'an Airflow user'} (API)"


ServicesDep = Annotated[Services, Depends(get_services)]
LiveDep = Annotated[MediaChangeBroadcaster, Depends(get_live)]
RequesterDep = Annotated[str, Depends(requester)]
UserDep = Callable[..., Any]
