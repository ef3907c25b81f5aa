"""Cloudinary → receiver notifications: triggers (stored in the emulator's SQLite), the signed
webhook delivery with Cloudinary-like retries, and the poll channel (`uri_type="poll"`) whose
messages are claimed with a visibility timeout and acknowledged by receipt handle.

A notification is signed once over its exact bytes: webhooks send those bytes with
`X-Cld-Timestamp`/`X-Cld-Signature`; poll messages carry them base64url-encoded as `signed_payload`.
"""

from __future__ import annotations

import base64
import collections
import heapq
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from mediasync.emulator.errors import CloudinaryError
from mediasync.emulator.signing import notification_signature
from mediasync.emulator.state import iso_now

if TYPE_CHECKING:
    from mediasync.emulator.runtime import Emulator

log = logging.getLogger(__name__)

# The event types `api.create_trigger` documents (cloudinary 1.46 api.py); the server owns the list.
EVENT_TYPES = ("all", "access_control_changed", "bulk_refresh_auto_fetch", "create_folder", "delete",
               "delete_by_token", "delete_folder", "eager", "error", "explode", "generate_archive", "info",
               "invalidate_custom_cdn", "moderation", "moderation_summary", "move", "move_or_rename_asset_folder",
               "multi", "publish", "rename", "report", "resource_context_changed", "resource_display_name_changed",
               "resource_metadata_changed", "resource_tags_changed", "restore_asset_version", "sprite", "upload")
URI_TYPES = ("webhook", "poll")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS triggers (
    id TEXT PRIMARY KEY, uri TEXT NOT NULL, uri_type TEXT NOT NULL, event_type TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS poll_messages (
    id INTEGER PRIMARY KEY, channel TEXT NOT NULL, body BLOB NOT NULL, timestamp TEXT NOT NULL,
    signature TEXT NOT NULL, visible_at REAL NOT NULL, receipt_handle TEXT, receive_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS poll_messages_ready ON poll_messages (channel, visible_at, id);
"""


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)
    log_entry: dict = field(compare=False, default_factory=dict)


class Notifier:
    """Builds, records and delivers notifications; one per emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.state
        with self.store.lock:
            self.store.db.executescript(_SCHEMA)
        # the notifications emitted since the last reset, for the control API (the latest 1000)
        self.sent: collections.deque[dict] = collections.deque(maxlen=1000)
        self._queue: list[_Delivery] = []
        self._seq = 0
        self._wake = threading.Condition()
        self._stopping = False
        self._worker = threading.Thread(target=self._deliver_forever, name="emulator-webhooks", daemon=True)
        self._worker.start()

    # --- triggers ------------------------------------------------------------------------

    def create_trigger(self, uri: str, event_type: str, uri_type: str | None) -> dict:
        uri_type = uri_type or "webhook"
        if uri_type not in URI_TYPES:
            raise CloudinaryError(400, f"Invalid uri_type {uri_type}: supported are {', '.join(URI_TYPES)}")
        if event_type not in EVENT_TYPES:
            raise CloudinaryError(400, f"Invalid event_type {event_type}")
        if uri_type == "poll" and not (uri.startswith("poll://") and len(uri) > len("poll://")):
            raise CloudinaryError(400, "A poll trigger's uri must be poll://<channel>")
        if uri_type == "webhook" and not uri.startswith(("http://", "https://")):
            raise CloudinaryError(400, f"Invalid uri {uri}")
        if self.store.query("SELECT 1 FROM triggers WHERE uri = ? AND event_type = ?", (uri, event_type)):
            raise CloudinaryError(409, f"Trigger already exists for {event_type} and {uri}")
        now = iso_now()
        trigger = {"id": secrets.token_hex(16), "uri": uri, "uri_type": uri_type, "event_type": event_type,
                   "created_at": now, "updated_at": now}
        with self.store.tx() as db:
            db.execute("INSERT INTO triggers VALUES (:id, :uri, :uri_type, :event_type, :created_at, :updated_at)",
                       trigger)
        return {**trigger, "product_environment_id": self.emulator.credentials.cloud_name}

    def triggers(self, event_type: str | None = None) -> list[dict]:
        sql = "SELECT id, uri, uri_type, event_type, created_at, updated_at FROM triggers"
        rows = self.store.query(sql + (" WHERE event_type = ?" if event_type else "") + " ORDER BY created_at, id",
                                (event_type,) if event_type else ())
        keys = ("id", "uri", "uri_type", "event_type", "created_at", "updated_at")
        cloud = self.emulator.credentials.cloud_name
        return [{**dict(zip(keys, r, strict=True)), "product_environment_id": cloud} for r in rows]

    def update_trigger(self, trigger_id: str, new_uri: str) -> None:
        with self.store.tx() as db:
            if db.execute("UPDATE triggers SET uri = ?, updated_at = ? WHERE id = ?",
                          (new_uri, iso_now(), trigger_id)).rowcount == 0:
                raise CloudinaryError(404, f"Trigger {trigger_id} not found")

    def delete_trigger(self, trigger_id: str) -> None:
        with self.store.tx() as db:
            if db.execute("DELETE FROM triggers WHERE id = ?", (trigger_id,)).rowcount == 0:
                raise CloudinaryError(404, f"Trigger {trigger_id} not found")

    # --- emitting ------------------------------------------------------------------------

    def emit(self, notification_type: str, payload: dict[str, Any], *, source: str = "api",
             actor: str | None = None, notification_url: str | None = None) -> dict:
        """Shape one notification as Cloudinary documents it and send it to every matching trigger
        (and the call's own `notification_url`)."""
        now = iso_now()
        body = {"notification_type": notification_type, "timestamp": now, "request_id": secrets.token_hex(16),
                **payload,
                "notification_context": {"triggered_at": now, "triggered_by": {
                    "source": source, "id": actor or (self.emulator.credentials.api_key if source == "api"
                                                      else "console-user@mediasync.local")}},
                "signature_key": self.emulator.credentials.api_key}
        raw = json.dumps(body, separators=(",", ":")).encode()
        record = {"notification_type": notification_type, "body": body, "deliveries": []}
        self.sent.append(record)
        targets = [t for t in self.triggers() if t["event_type"] in (notification_type, "all")]
        for trigger in targets:
            if trigger["uri_type"] == "poll":
                self._enqueue_poll(trigger["uri"].removeprefix("poll://"), raw)
            else:
                self._schedule(trigger["uri"], raw, record)
        if notification_url:
            self._schedule(notification_url, raw, record)
        return body

    def _sign(self, raw: bytes) -> tuple[str, str]:
        timestamp = str(int(time.time()))
        algorithm = self.emulator.settings.notification_signature_algorithm
        return timestamp, notification_signature(raw, timestamp, self.emulator.credentials.api_secret, algorithm)

    # --- webhooks ------------------------------------------------------------------------

    def _schedule(self, url: str, raw: bytes, record: dict, attempt: int = 1, delay: float = 0.0) -> None:
        entry = {"url": url, "attempts": []}
        record["deliveries"].append(entry)
        with self._wake:
            self._seq += 1
            heapq.heappush(self._queue, _Delivery(time.monotonic() + delay, self._seq, url, raw, attempt, entry))
            self._wake.notify()

    def _deliver_forever(self) -> None:
        client = httpx.Client(timeout=self.emulator.settings.webhook_timeout_seconds)
        while True:
            with self._wake:
                while not self._stopping and (not self._queue or self._queue[0].due > time.monotonic()):
                    self._wake.wait(timeout=(self._queue[0].due - time.monotonic()) if self._queue else None)
                if self._stopping:
                    client.close()
                    return
                delivery = heapq.heappop(self._queue)
            self._attempt(client, delivery)

    def _attempt(self, client: httpx.Client, delivery: _Delivery) -> None:
        timestamp, signature = self._sign(delivery.body)
        headers = {"Content-Type": "application/json", "X-Cld-Timestamp": timestamp, "X-Cld-Signature": signature,
                   "User-Agent": "Cloudinary (mediasync emulator)"}
        try:
            status: int | str = client.post(delivery.url, content=delivery.body, headers=headers).status_code
        except httpx.HTTPError as exc:
            status = f"error: {type(exc).__name__}"
        delivery.log_entry["attempts"].append({"at": iso_now(), "status": status})
        ok = isinstance(status, int) and 200 <= status < 300
        delays = self.emulator.settings.webhook_retry_delays
        delivery.log_entry["delivered"] = ok
        if not ok and delivery.attempt <= len(delays):
            with self._wake:
                self._seq += 1
                heapq.heappush(self._queue, _Delivery(time.monotonic() + delays[delivery.attempt - 1], self._seq,
                                                      delivery.url, delivery.body, delivery.attempt + 1,
                                                      delivery.log_entry))
                self._wake.notify()
        elif not ok:
            log.warning("webhook %s gave up after %d attempts", delivery.url, delivery.attempt)

    def pending_deliveries(self) -> int:
        with self._wake:
            return len(self._queue)

    # --- poll channel --------------------------------------------------------------------

    def _enqueue_poll(self, channel: str, raw: bytes) -> None:
        timestamp, signature = self._sign(raw)
        with self.store.tx() as db:
            db.execute("INSERT INTO poll_messages (channel, body, timestamp, signature, visible_at) VALUES "
                       "(?, ?, ?, ?, 0)", (channel, raw, timestamp, signature))

    def receive(self, channel: str, max_messages: int, visibility_timeout: int) -> list[dict]:
        """Claim up to max_messages visible messages; they reappear after visibility_timeout unless acked."""
        now = time.time()
        with self.store.tx() as db:
            rows = db.execute("SELECT id, body, timestamp, signature, receive_count FROM poll_messages "
                              "WHERE channel = ? AND visible_at <= ? ORDER BY id LIMIT ?",
                              (channel, now, max_messages)).fetchall()
            messages = []
            for message_id, raw, timestamp, signature, count in rows:
                handle = secrets.token_urlsafe(24)
                db.execute("UPDATE poll_messages SET visible_at = ?, receipt_handle = ?, receive_count = ? "
                           "WHERE id = ?", (now + visibility_timeout, handle, count + 1, message_id))
                messages.append({"message_id": str(message_id), "payload": json.loads(raw),
                                 "signed_payload": base64.urlsafe_b64encode(raw).decode().rstrip("="),
                                 "timestamp": timestamp, "signature": signature, "receipt_handle": handle,
                                 "receive_count": count + 1})
        return messages

    def ack(self, receipt_handles: list[str]) -> int:
        """Delete the messages whose current receipt handle is given; a stale handle acks nothing."""
        with self.store.tx() as db:
            return sum(db.execute("DELETE FROM poll_messages WHERE receipt_handle = ?", (h,)).rowcount
                       for h in receipt_handles)

    def backlog(self) -> int:
        return self.store.query("SELECT count(*) FROM poll_messages")[0][0]

    # --- lifecycle -----------------------------------------------------------------------

    def reset(self) -> None:
        with self._wake:
            self._queue.clear()
        self.sent.clear()
        with self.store.tx() as db:
            db.execute("DELETE FROM triggers")
            db.execute("DELETE FROM poll_messages")

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._worker.join(timeout=5)


def trigger_list_body(triggers: list[dict]) -> dict:
    return {"triggers": triggers, "total": len(triggers)}

