"""The notification channel calls of `CloudinaryClient` (Cloudinary → mediasync): claiming and
acknowledging messages of a poll channel, and the account's notification triggers. A mixin over
the client's retrying, error-mapping `_call`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import cloudinary.api

from mediasync.store import MAX_NOTIFICATION_ACKS

T = TypeVar("T")


class _Caller(Protocol):
    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...


class ChannelCalls:
    """The notification channel calls of `CloudinaryClient`."""

    def receive_notifications(self: _Caller, channel: str, *, max_messages: int = 100, wait_seconds: int = 0,
                              visibility_timeout: int = 60) -> list[dict[str, Any]]:
        """Claim messages from a poll channel (`api.notifications`, SDK >= 1.46); each stays invisible
        for `visibility_timeout` s and comes back unless acknowledged."""
        result = self._call("receive notifications", cloudinary.api.notifications, channel=channel,
                            max_messages=max_messages, wait_seconds=wait_seconds,
                            visibility_timeout=visibility_timeout)
        return list(result.get("messages") or [])

    def ack_notifications(self: _Caller, receipt_handles: list[str]) -> int:
        """Acknowledge (delete) claimed messages, at most 100 handles a call; returns how many."""
        acknowledged = 0
        for start in range(0, len(receipt_handles), MAX_NOTIFICATION_ACKS):
            result = self._call("ack notifications", cloudinary.api.ack_notifications,
                                receipt_handles[start:start + MAX_NOTIFICATION_ACKS])
            acknowledged += int(result.get("acknowledged", 0))
        return acknowledged

    def list_triggers(self: _Caller) -> list[dict[str, Any]]:
        """The account's notification triggers (Admin API `triggers`)."""
        return list(self._call("list triggers", cloudinary.api.triggers).get("triggers") or [])

    def create_trigger(self: _Caller, uri: str, event_type: str, uri_type: str = "webhook") -> dict[str, Any]:
        return dict(self._call("create trigger", cloudinary.api.create_trigger, uri, event_type, uri_type=uri_type))

