"""The Cloudinary side of a reconciliation: a checkpointed listing streamed into the snapshot.

Every resource type's listing goes page by page into `mediasync.listing_snapshot` with COPY; each
page and its cursor checkpoint commit together, so a listing cut short (rate limit, outage,
allowance kept for the cleanup queue) resumes where it stopped on the next run. The listing
also pauses while Cloudinary still allows a few Admin API calls this hour, leaving them for the
cleanup queue's deletes (the same allowance).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from mediasync.db import Connection, Database
from mediasync.errors import StoreError, StorePermanentError, StoreRateLimited
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.store import DELIVERY_TYPE, AssetStore, ListingPage

log = logging.getLogger(__name__)

MAX_RESUME_AGE = timedelta(hours=24)  # an older partial listing is too stale to finish


@dataclass(frozen=True)
class ListingOutcome:
    complete: bool
    message: str = ""
    resume_at: datetime | None = None  # when Cloudinary's allowance resets, if that is what stopped it


@dataclass
class AdminAllowance:
    """Cloudinary's Admin API allowance as the last listing page reported it. Listing stops once
    `reserve` calls are left, so the cleanup queue's deletes keep working until the hour resets."""

    reserve: int
    remaining: int | None = None
    reset_at: datetime | None = None

    def note(self, page: ListingPage) -> None:
        if page.rate_limit_remaining is not None:
            self.remaining, self.reset_at = page.rate_limit_remaining, page.rate_limit_reset_at

    def pause_message(self) -> str | None:
        if self.reserve <= 0 or self.remaining is None or self.remaining > self.reserve:
            return None
        when = self.reset_at.isoformat() if self.reset_at else "within the hour"
        return (f"listing paused with {self.remaining} Admin API calls left this hour, kept for the cleanup queue "
                f"(reserve {self.reserve}); no action taken; the next run resumes from the checkpoint "
                f"(allowance resets {when})")


class SnapshotLister:
    """Lists one inventory (a delivery type and an optional prefix) into the snapshot."""

    def __init__(self, db: Database, store: AssetStore, resource_types: tuple[str, ...], admin_api_reserve: int,
                 repository: ReconciliationRepository | None = None) -> None:
        self.db = db
        self.store = store
        self.resource_types = resource_types
        self.admin_api_reserve = admin_api_reserve
        self.repo = repository or ReconciliationRepository()

    def list(self, key: str, prefix: str | None) -> ListingOutcome:
        """Stream every resource type's listing into the snapshot, resuming from checkpoints."""
        allowance = AdminAllowance(self.admin_api_reserve)
        with self.db.session() as conn:
            for resource_type in self.resource_types:
                outcome = self._list_type(conn, key, resource_type, prefix, allowance)
                if not outcome.complete:
                    return outcome
        return ListingOutcome(True)

    def _list_type(self, conn: Connection, key: str, resource_type: str, prefix: str | None,
                   allowance: AdminAllowance, restarted: bool = False) -> ListingOutcome:
        with conn.transaction():
            checkpoint = self.repo.checkpoint(conn, key, resource_type)
        fresh = checkpoint is None or restarted or _too_old(checkpoint["started_at"])
        if checkpoint is not None and not fresh and checkpoint["complete"]:
            return ListingOutcome(True)
        if paused := allowance.pause_message():
            return ListingOutcome(False, paused, allowance.reset_at)
        cursor = None if fresh or checkpoint is None else checkpoint["cursor"]
        if fresh:
            with conn.transaction():
                self.repo.start_listing(conn, key, resource_type)
        else:
            log.info("resuming %s listing of %s from its checkpoint", resource_type, key)
        pages = 0
        try:
            for page in self.store.iter_pages(resource_type, DELIVERY_TYPE, prefix, cursor):
                with conn.transaction():
                    self.repo.store_page(conn, key, resource_type, page.assets, page.next_cursor)
                pages += 1
                allowance.note(page)
                if page.next_cursor and (paused := allowance.pause_message()):
                    log.warning("%s listing of %s: %s", resource_type, key, paused)
                    return ListingOutcome(False, paused, allowance.reset_at)
            if pages == 0:  # an empty listing still completes its checkpoint
                with conn.transaction():
                    self.repo.store_page(conn, key, resource_type, [], None)
        except StoreRateLimited as exc:
            when = exc.reset_at.isoformat() if exc.reset_at else "later"
            return ListingOutcome(False, f"listing of {resource_type} assets stopped by Cloudinary's rate limit; "
                                         f"no action taken; the next run resumes from the checkpoint "
                                         f"(limit resets {when})", exc.reset_at)
        except StorePermanentError as exc:
            if cursor and not restarted:
                log.warning("resuming the %s listing failed (%s); listing it from the start", resource_type, exc)
                return self._list_type(conn, key, resource_type, prefix, allowance, restarted=True)
            return ListingOutcome(False, f"listing of {resource_type} assets failed: {exc}; no action taken")
        except StoreError as exc:
            return ListingOutcome(False, f"listing of {resource_type} assets failed: {exc}; no action taken; "
                                         f"the next run resumes from the checkpoint")
        log.info("listed %s assets of %s in %d pages", resource_type, key, pages)
        return ListingOutcome(True)


def _too_old(started_at: datetime) -> bool:
    return datetime.now(timezone.utc) - started_at > MAX_RESUME_AGE
