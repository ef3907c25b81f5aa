"""The one notification ingest, whatever the transport (webhook or poll channel).

`ingest(raw, timestamp, signature)` verifies the signature over the exact bytes, stores the
notification once (its SHA-256 is its identity, so a redelivery or replay is a no-op), and applies
it to media_files — in one transaction (shared with the webhooks arriving at the same moment: see
`batcher.py`), so a caller acknowledges (2xx, poll ack) only what is committed. `drain` reads the
poll channel, ingests each message and acknowledges after commit.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from mediasync.config import Settings
from mediasync.db import Connection, Database
from mediasync.errors import ConfigError, DatabaseUnavailable, MediasyncError
from mediasync.repository.notifications import NotificationRepository
from mediasync.results import Result
from mediasync.services.notifications.apply import ChangeApplier
from mediasync.services.notifications.batcher import GroupCommitter
from mediasync.services.notifications.channel import NotificationChannel, TriggerSetup
from mediasync.services.notifications.events import Notification, parse
from mediasync.services.notifications.signature import RejectedNotification, SignatureVerifier

log = logging.getLogger(__name__)
Transport = Literal["webhook", "poll"]
# A poll message that keeps failing for a reason other than the database being down (a bug, a
# constraint) is dead-lettered — recorded, acknowledged — once Cloudinary has handed it out this many
# times (the trigger's peeks count too), rather than blocking every later run; the nightly
# reconciliation repairs what it would have changed. A refused message is dead-lettered at once.
MAX_RECEIVES = 5


class IngestResult(Result):
    """What became of one notification."""

    notification_id: int | None
    notification_type: str
    outcome: str  # applied, no_change, stale, own_change, out_of_scope, ignored
    duplicate: bool = False
    changed_rows: int = 0
    detail: str | None = None


class DrainResult(Result):
    """One pass over the poll channel."""

    channel: str
    received: int = 0
    applied: int = 0
    duplicates: int = 0
    unchanged: int = 0
    rejected: int = 0  # refused (signature, malformed, over a limit): dead-lettered at once
    acknowledged: int = 0
    failed: int = 0  # not committed: not acknowledged, redelivered after the visibility timeout
    dead_lettered: int = 0  # recorded in mediasync.notification_dead_letters and acknowledged
    database_down: bool = False  # the drain stopped early: the rest waits for redelivery
    error: str | None = None


class NotificationStatus(Result):
    channel: str
    signature_algorithm: str
    adopt_external_uploads: bool
    received: int
    applied: int
    last_received_at: datetime | None
    last_type: str | None
    last_outcome: str | None
    dead_letters: int = 0
    last_dead_letter_at: datetime | None = None
    last_dead_letter_reason: str | None = None
    triggers: list[dict[str, str]] | None = None
    triggers_error: str | None = None


class NotificationRepairs(Result):
    """What notifications repaired since a time: the notification channel's health figure."""

    since: datetime
    notifications: int
    rows: int
    by_type: dict[str, int]


def _receive_count(message: dict[str, Any]) -> int:
    count = message.get("receive_count")
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1


def _text(value: Any) -> str | None:
    return str(value)[:200] if value is not None else None


@dataclass(frozen=True)
class Verified:
    """A notification whose signature and shape were checked, ready to store and apply."""

    notification: Notification
    digest: str  # SHA-256 of the exact body: its identity (a redelivery is a no-op)
    signed_at: datetime
    transport: Transport
    applier: ChangeApplier


def decode_signed_payload(value: str) -> bytes:
    """The exact signed bytes of a poll message (`signed_payload`, base64url without padding)."""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        raise RejectedNotification("signed_payload is not base64url", 400) from None


class NotificationService:
    def __init__(self, db: Database, settings: Settings, channel: NotificationChannel | None = None,
                 repository: NotificationRepository | None = None) -> None:
        self.db = db
        self.settings = settings
        self.channel = channel
        self.repo = repository or NotificationRepository()
        self._committer: GroupCommitter[Verified, IngestResult] | None = None
        self._committer_lock = threading.Lock()

    def _credentials(self) -> tuple[str, str]:
        credentials = getattr(self.channel, "credentials", None)
        if credentials is None:
            raise ConfigError("no Cloudinary account configured: notifications are verified with its API secret")
        return credentials.api_key, credentials.api_secret

    def verifier(self) -> SignatureVerifier:
        return SignatureVerifier(self._credentials()[1], self.settings.notification_signature_algorithm,
                                 self.settings.notification_max_age_seconds)

    # --- ingest --------------------------------------------------------------------------

    def ingest(self, raw: bytes, timestamp: str | None, signature: str | None,
               transport: Transport = "webhook") -> IngestResult:
        """Verify, store once, apply; committed when this returns. Raises `RejectedNotification`
        (4xx: nothing stored or changed) or a database error (nothing stored: deliver again).
        Webhooks arriving together share transactions (`GroupCommitter`); a poll drain, one
        caller in order, stores each in its own."""
        if len(raw) > self.settings.notification_max_body_bytes:
            raise RejectedNotification(f"notification body larger than {self.settings.notification_max_body_bytes} "
                                       f"bytes", 413)
        signed = self.verifier().verify(raw, timestamp, signature)
        signed_at = datetime.fromtimestamp(signed, timezone.utc)
        verified = Verified(parse(raw, signed_at), hashlib.sha256(raw).hexdigest(), signed_at, transport,
                            ChangeApplier(self.settings, self._credentials()[0], self.repo))
        if transport == "webhook":
            result = self.committer().submit(verified)
        else:
            with self.db.transaction() as conn:
                result = self._store(conn, verified)
        if not result.duplicate:
            log.info("notification %s %s (%s): %s, %d row(s)%s", result.notification_id, result.notification_type,
                     transport, result.outcome, result.changed_rows, f" — {result.detail}" if result.detail else "")
        return result

    def committer(self) -> GroupCommitter[Verified, IngestResult]:
        """The webhook's group committer (one per service, started on first use)."""
        with self._committer_lock:
            if self._committer is None:
                self._committer = GroupCommitter(lambda: self.db, self._store)
            return self._committer

    def _store(self, conn: Connection, verified: Verified) -> IngestResult:
        """Store the notification once and apply it, in the caller's transaction."""
        notification = verified.notification
        notification_id = self.repo.record(
            conn, body_sha256=verified.digest, notification_type=notification.notification_type,
            request_id=notification.request_id, asset_ids=notification.asset_ids,
            public_ids=notification.public_ids, transport=verified.transport, source=notification.source,
            event_at=notification.event_at, signed_at=verified.signed_at, body=notification.body)
        if notification_id is None:
            previous = self.repo.previous(conn, verified.digest) or {}
            return IngestResult(notification_id=previous.get("id"), duplicate=True, changed_rows=0,
                                notification_type=notification.notification_type,
                                outcome=previous.get("outcome", "no_change"),
                                detail="already received; nothing applied twice")
        applied = verified.applier.apply(conn, notification)
        self.repo.finish(conn, notification_id, applied.outcome, applied.changed_rows, applied.detail)
        return IngestResult(notification_id=notification_id, notification_type=notification.notification_type,
                            outcome=applied.outcome, changed_rows=applied.changed_rows, detail=applied.detail)

    # --- poll channel --------------------------------------------------------------------

    def _require_channel(self) -> NotificationChannel:
        if self.channel is None:
            raise ConfigError("no Cloudinary account configured for the notification channel")
        return self.channel

    def drain(self, channel: str | None = None, *, max_messages: int = 100, wait_seconds: int = 0,
              visibility_timeout: int = 60, max_rounds: int = 20) -> DrainResult:
        """Read the poll channel until it is empty (or `max_rounds` batches), ingest each message
        and acknowledge it once committed. A message that failed to commit is not acknowledged: it
        comes back after the visibility timeout (at-least-once; the dedupe makes it exactly-once).
        One bad message never holds up the others: a refused one is dead-lettered at once, one that
        keeps failing after `MAX_RECEIVES` receipts; only the database being down ends the drain."""
        client = self._require_channel()
        name = channel or self.settings.notification_channel
        result = DrainResult(channel=name)
        for _ in range(max_rounds):
            messages = client.receive_notifications(name, max_messages=max_messages, wait_seconds=wait_seconds,
                                                    visibility_timeout=visibility_timeout)
            if not messages:
                break
            done = [str(m["receipt_handle"]) for m in messages
                    if self._drain_one(name, m, result) and m.get("receipt_handle")]
            if done:
                result.acknowledged += client.ack_notifications(done)
            if result.database_down:
                break  # the database is failing: leave the rest for redelivery
            wait_seconds = 0
        return result

    def _drain_one(self, channel: str, message: dict[str, Any], result: DrainResult) -> bool:
        """Ingest one poll message; whether to acknowledge it (committed, or dead-lettered)."""
        result.received += 1
        raw: bytes | None = None
        try:
            raw = decode_signed_payload(str(message.get("signed_payload", "")))
            outcome = self.ingest(raw, str(message.get("timestamp") or ""), str(message.get("signature") or ""),
                                  transport="poll")
        except RejectedNotification as exc:  # never valid later either
            log.warning("poll message %s refused: %s", message.get("message_id"), exc)
            result.rejected += 1
            return self._dead_letter(channel, message, raw, f"refused: {exc}", result)
        except DatabaseUnavailable as exc:
            result.failed += 1
            result.error, result.database_down = str(exc), True
            return False
        except Exception as exc:  # a bug or a constraint must not block the messages behind it
            if not isinstance(exc, MediasyncError):
                log.exception("poll message %s failed unexpectedly", message.get("message_id"))
            result.error = f"{type(exc).__name__}: {exc}"[:500]
            receipts = _receive_count(message)
            if receipts < MAX_RECEIVES:
                result.failed += 1
                return False
            log.error("poll message %s failed on each of %d receipts (%s): dead-lettered; reconciliation will "
                      "repair what it would have changed", message.get("message_id"), receipts, result.error)
            return self._dead_letter(channel, message, raw, f"failed {receipts} times: {result.error}", result)
        result.duplicates += outcome.duplicate
        result.applied += outcome.outcome == "applied" and not outcome.duplicate
        result.unchanged += outcome.outcome != "applied" and not outcome.duplicate
        return True

    def _dead_letter(self, channel: str, message: dict[str, Any], raw: bytes | None, reason: str,
                     result: DrainResult) -> bool:
        """Record the message, so it can be acknowledged without being lost; False (not acknowledged,
        delivered again) while the database cannot record it. The payload is kept up to the body limit."""
        limit = self.settings.notification_max_body_bytes
        try:
            with self.db.transaction() as conn:
                self.repo.dead_letter(conn, channel=channel, message_id=_text(message.get("message_id")),
                                      receive_count=_receive_count(message), reason=reason,
                                      signed_at=_text(message.get("timestamp")),
                                      signature=_text(message.get("signature")),
                                      payload=raw if raw is not None and len(raw) <= limit else None)
        except MediasyncError as exc:
            result.failed += 1
            result.error = f"dead-lettering failed: {exc}"
            result.database_down = result.database_down or isinstance(exc, DatabaseUnavailable)
            return False
        result.dead_lettered += 1
        return True

    # --- operations ----------------------------------------------------------------------

    def setup(self, transport: Transport, target: str, event_types: tuple[str, ...] | None = None) -> TriggerSetup:
        """Create the Cloudinary triggers for `transport` idempotently."""
        from mediasync.services.notifications.channel import ensure_triggers

        return ensure_triggers(self._require_channel(), transport, target, event_types)

    def status(self, with_triggers: bool = True) -> NotificationStatus:
        with self.db.transaction() as conn:
            summary = {**self.repo.summary(conn), **self.repo.dead_letter_summary(conn)}
        status = NotificationStatus(**summary, channel=self.settings.notification_channel,
                                    signature_algorithm=self.settings.notification_signature_algorithm,
                                    adopt_external_uploads=self.settings.adopt_external_uploads)
        if with_triggers and self.channel is not None:
            try:
                status.triggers = [{k: str(t.get(k, "")) for k in ("id", "event_type", "uri_type", "uri")}
                                   for t in self.channel.list_triggers()]
            except MediasyncError as exc:
                status.triggers_error = str(exc)
        return status

    def repairs_since(self, since: datetime) -> NotificationRepairs:
        """How much drift notifications repaired since `since` (e.g. the previous reconciliation run's
        start): applied notifications and the rows they changed, per type."""
        with self.db.transaction() as conn:
            rows = self.repo.repairs_since(conn, since)
        return NotificationRepairs(since=since, notifications=sum(r["notifications"] for r in rows),
                                   rows=sum(int(r["rows"] or 0) for r in rows),
                                   by_type={r["notification_type"]: int(r["rows"] or 0) for r in rows})
