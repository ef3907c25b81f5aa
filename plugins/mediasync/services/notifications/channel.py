"""The Cloudinary side of notifications: what the ingest needs from the client (the poll channel,
the Admin API triggers, the credentials that sign), and creating the triggers idempotently."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from mediasync.errors import InvalidInput
from mediasync.results import Result

# The event types mediasync follows (everything else would be stored and ignored).
EVENT_TYPES: tuple[str, ...] = ("upload", "delete", "delete_by_token", "rename", "move",
                                "move_or_rename_asset_folder", "resource_display_name_changed",
                                "resource_tags_changed", "resource_context_changed")


@runtime_checkable
class NotificationChannel(Protocol):
    """Implemented by `clients.cloudinary.CloudinaryClient`."""

    credentials: Any  # .api_key, .api_secret

    def receive_notifications(self, channel: str, *, max_messages: int, wait_seconds: int,
                              visibility_timeout: int) -> list[dict[str, Any]]: ...

    def ack_notifications(self, receipt_handles: list[str]) -> int: ...

    def list_triggers(self) -> list[dict[str, Any]]: ...

    def create_trigger(self, uri: str, event_type: str, uri_type: str) -> dict[str, Any]: ...


class TriggerSetup(Result):
    transport: Literal["webhook", "poll"]
    uri: str
    created: list[str]
    existing: list[str]


def trigger_uri(transport: Literal["webhook", "poll"], target: str) -> str:
    """The trigger destination: the webhook URL, or `poll://<channel>`."""
    target = target.strip()
    if transport == "poll":
        channel = target.removeprefix("poll://")
        if not channel or "/" in channel or any(c.isspace() for c in channel):
            raise InvalidInput(f"invalid poll channel {target!r}: one word, e.g. 'mediasync'", 422)
        return f"poll://{channel}"
    if not target.startswith(("https://", "http://")):
        raise InvalidInput(f"invalid webhook URL {target!r}: expected https://…/mediasync/api/v1/cloudinary/"
                           f"notifications", 422)
    return target


def ensure_triggers(client: NotificationChannel, transport: Literal["webhook", "poll"], target: str,
                    event_types: tuple[str, ...] | None = None) -> TriggerSetup:
    """One trigger per followed event type for the destination; those already there are kept."""
    uri = trigger_uri(transport, target)
    have = {t.get("event_type") for t in client.list_triggers() if t.get("uri") == uri}
    created, existing = [], []
    for event_type in event_types or EVENT_TYPES:
        if event_type in have or "all" in have:
            existing.append(event_type)
            continue
        client.create_trigger(uri, event_type, transport)
        created.append(event_type)
    return TriggerSetup(transport=transport, uri=uri, created=created, existing=existing)
