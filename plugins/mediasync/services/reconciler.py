"""Nightly reconciliation: prove Cloudinary and media_files agree, and repair drift safely.

Like `rclone check`: list one side completely, diff against the other, classify. The full
Cloudinary listing (all resource types) streams page by page into PostgreSQL with COPY and the
diff is SQL, so memory stays flat as the library grows. Safety rails: dry run unless `apply`;
no action unless the listing completed; deletions above max(100, fraction × assets) abort
unless `force`; rows are never deleted; deletions go through the cleanup queue, which refuses
to delete an asset an active row uses. A listing cut short (rate limit) is checkpointed and the
next run resumes from its cursor. The listing also stops while Cloudinary still allows a few Admin
API calls this hour, keeping them for the cleanup queue's deletes (the same allowance).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from mediasync.config import Settings
from mediasync.errors import InvalidInput, MediasyncError, StoreError, StorePermanentError, StoreRateLimited
from mediasync.hooks.postgres import Database
from mediasync.repository.reconciliation import DRIFT_KINDS, ReconciliationRepository
from mediasync.services.content import safe_folder
from mediasync.services.queue_processor import CleanupQueueProcessor
from mediasync.services.reports import SupabaseReportStore, write_reports
from mediasync.store import RESOURCE_TYPES, AssetStore, ListingPage

log = logging.getLogger(__name__)

DELIVERY_TYPE = "upload"
MIN_DELETE_CAP = 100
MAX_RESUME_AGE = timedelta(hours=24)  # an older partial listing is too stale to finish


@dataclass
class ReconcileResult:
    run_id: int
    mode: str
    status: str  # completed | incomplete | aborted | failed
    counts: dict = field(default_factory=dict)
    message: str = ""
    listing_complete: bool = False
    assets_listed: int = 0
    report_csv: str | None = None
    report_html: str | None = None
    report_url: str | None = None
    duration_seconds: float = 0.0
    resume_at: datetime | None = None  # an incomplete listing can go on then (Cloudinary's allowance resets)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Listing:
    complete: bool
    message: str = ""
    resume_at: datetime | None = None


@dataclass
class _AdminAllowance:
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


class Reconciler:
    def __init__(self, db: Database, store: AssetStore, settings: Settings | None = None, *,
                 processor: CleanupQueueProcessor | None = None, report_store: SupabaseReportStore | None = None,
                 resource_types: tuple[str, ...] = RESOURCE_TYPES) -> None:
        self.db = db
        self.store = store
        self.settings = settings or Settings()
        self.processor = processor
        self.report_store = report_store
        self.resource_types = resource_types
        self.repo = ReconciliationRepository()

    def run(self, apply: bool = False, folder: str | None = None, force: bool = False,
            max_delete_fraction: float | None = None, grace_minutes: int | None = None,
            process_queue: bool = True) -> ReconcileResult:
        """One reconciliation. Dry run unless `apply`; see the module docstring for the rails."""
        fraction = self.settings.reconcile_max_delete_fraction if max_delete_fraction is None else max_delete_fraction
        if not 0 <= fraction <= 1:
            raise InvalidInput("max_delete_fraction must be between 0 and 1", 422)
        grace = self.settings.reconcile_grace_minutes if grace_minutes is None else grace_minutes
        if grace < 0:
            raise InvalidInput("grace_minutes must not be negative", 422)
        prefix = f"{safe_folder(folder)}/" if folder else None
        key = f"{DELIVERY_TYPE}:{prefix or ''}"
        params = {"apply": apply, "folder": folder, "force": force, "max_delete_fraction": fraction,
                  "grace_minutes": grace}
        started = time.monotonic()
        with self.db.session() as lock_conn:
            with lock_conn.transaction():
                run = self.repo.create_run(lock_conn, "apply" if apply else "dry_run", params)
            result = ReconcileResult(run_id=run["id"], mode="apply" if apply else "dry_run", status="failed")
            if not self.repo.try_lock(lock_conn, key):
                result.status, result.message = "aborted", "another reconciliation of this inventory is running"
                return self._finish(lock_conn, result, started)
            try:
                self._run_locked(result, key, prefix, apply, force, fraction, grace, process_queue)
            except (MediasyncError, psycopg.Error) as exc:
                result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"
                log.exception("reconciliation %d failed", result.run_id)
            finally:
                self.repo.unlock(lock_conn, key)
            return self._finish(lock_conn, result, started)

    def _run_locked(self, result: ReconcileResult, key: str, prefix: str | None, apply: bool, force: bool,
                    fraction: float, grace: int, process_queue: bool) -> None:
        listing = self._list(key, prefix)
        with self.db.transaction() as conn:
            summary = self.repo.listing_summary(conn, key)
        result.assets_listed = summary["assets_listed"]
        if not listing.complete:
            result.status, result.message, result.resume_at = "incomplete", listing.message, listing.resume_at
            result.counts = {"assets_listed": result.assets_listed}
            return
        result.listing_complete = True
        with self.db.transaction() as conn:
            counts = self.repo.diff(conn, run_id=result.run_id, key=key, prefix=prefix,
                                    resource_types=self.resource_types,
                                    grace_cutoff=datetime.now(timezone.utc) - timedelta(minutes=grace),
                                    listing_started_at=summary["started_at"])
        deletions = counts["orphan_asset"] + counts["undeleted_asset"]
        cap = max(MIN_DELETE_CAP, int(fraction * result.assets_listed))
        result.counts = {**counts, "assets_listed": result.assets_listed, "deletion_cap": cap,
                         "queued_deletions": 0, "updated_rows": 0}
        if apply and deletions > cap and not force:
            result.status = "aborted"
            result.message = (f"{deletions} deletions exceed the safety cap of {cap} "
                              f"(max(100, {fraction:g} × {result.assets_listed} assets)); nothing was changed — "
                              f"check the report, then re-run with force=true if this is intended")
        elif apply:
            with self.db.transaction() as conn:
                result.counts["queued_deletions"] = self.repo.queue_deletions(conn, result.run_id)
                result.counts["updated_rows"] = self.repo.update_metadata(conn, result.run_id, key)
            result.status = "completed"
            result.message = (f"{self._drift_total(counts)} drift items; queued {result.counts['queued_deletions']} "
                              f"deletions, updated {result.counts['updated_rows']} rows")
            if process_queue and self.processor and result.counts["queued_deletions"]:
                drained = self.processor.process(time_budget=300)
                result.counts["processed_deletions"] = drained.completed
        else:
            result.status = "completed"
            result.message = f"dry run: {self._drift_total(counts)} drift items found, nothing changed"
        with self.db.transaction() as conn:
            self.repo.clear_inventory(conn, key)  # consumed; the next run lists afresh

    @staticmethod
    def _drift_total(counts: dict) -> int:
        return sum(counts.get(k, 0) for k in DRIFT_KINDS)

    # --- listing -------------------------------------------------------------------------

    def _list(self, key: str, prefix: str | None) -> _Listing:
        """Stream every resource type's listing into the snapshot, resuming from checkpoints."""
        allowance = _AdminAllowance(self.settings.reconcile_admin_api_reserve)
        with self.db.connect() as conn:
            for resource_type in self.resource_types:
                outcome = self._list_type(conn, key, resource_type, prefix, allowance)
                if not outcome.complete:
                    return outcome
        return _Listing(True)

    def _list_type(self, conn: psycopg.Connection, key: str, resource_type: str, prefix: str | None,
                   allowance: _AdminAllowance, restarted: bool = False) -> _Listing:
        with conn.transaction():
            checkpoint = self.repo.checkpoint(conn, key, resource_type)
        fresh = checkpoint is None or restarted or _too_old(checkpoint["started_at"])
        if not fresh and checkpoint["complete"]:
            return _Listing(True)
        if paused := allowance.pause_message():
            return _Listing(False, paused, allowance.reset_at)
        cursor = None if fresh else checkpoint["cursor"]
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
                    return _Listing(False, paused, allowance.reset_at)
            if pages == 0:  # an empty listing still completes its checkpoint
                with conn.transaction():
                    self.repo.store_page(conn, key, resource_type, [], None)
        except StoreRateLimited as exc:
            when = exc.reset_at.isoformat() if exc.reset_at else "later"
            return _Listing(False, f"listing of {resource_type} assets stopped by Cloudinary's rate limit; "
                                   f"no action taken; the next run resumes from the checkpoint (limit resets {when})",
                            exc.reset_at)
        except StorePermanentError as exc:
            if cursor and not restarted:
                log.warning("resuming the %s listing failed (%s); listing it from the start", resource_type, exc)
                return self._list_type(conn, key, resource_type, prefix, allowance, restarted=True)
            return _Listing(False, f"listing of {resource_type} assets failed: {exc}; no action taken")
        except StoreError as exc:
            return _Listing(False, f"listing of {resource_type} assets failed: {exc}; no action taken; "
                                   f"the next run resumes from the checkpoint")
        log.info("listed %s assets of %s in %d pages", resource_type, key, pages)
        return _Listing(True)

    # --- output --------------------------------------------------------------------------

    def _finish(self, conn: psycopg.Connection, result: ReconcileResult, started: float) -> ReconcileResult:
        result.duration_seconds = round(time.monotonic() - started, 3)
        with conn.transaction():
            self.repo.finish_run(conn, result.run_id, status=result.status, counts=result.counts,
                                 message=result.message, listing_complete=result.listing_complete,
                                 assets_listed=result.assets_listed)
        self._report(conn, result)
        log.info("reconciliation %d (%s): %s — %s", result.run_id, result.mode, result.status, result.message)
        return result

    def _report(self, conn: psycopg.Connection, result: ReconcileResult) -> None:
        run = {"run_id": result.run_id, "mode": result.mode, "status": result.status, "message": result.message,
               "assets_listed": result.assets_listed, "duration_seconds": result.duration_seconds}
        with conn.transaction():
            files = write_reports(Path(self.settings.report_dir), run, result.counts,
                                  self.repo.report_items(conn, result.run_id))
        result.report_csv, result.report_html = str(files.csv), str(files.html)
        result.report_url = self._publish(files.html, result.run_id)
        with conn.transaction():
            self.repo.set_reports(conn, result.run_id, result.report_csv, result.report_html, result.report_url)

    def _publish(self, html_path: Path, run_id: int) -> str | None:
        store = self.report_store
        if store is None and self.settings.supabase_url and self.settings.supabase_service_role_key:
            store = SupabaseReportStore(self.settings.supabase_url, self.settings.supabase_service_role_key,
                                        self.settings.supabase_report_bucket)
        if store is None:
            return None
        try:
            return store.upload(html_path, f"reconciliation/{run_id}/report.html", "text/html")
        except Exception as exc:  # noqa: BLE001 - a report copy must not fail the run; it is logged
            log.warning("could not store report %d in Supabase Storage: %s", run_id, exc)
            return None

    def recent_runs(self, limit: int = 20) -> list[dict]:
        with self.db.transaction() as conn:
            rows = self.repo.recent_runs(conn, limit)
        return [{**r, "started_at": _iso(r["started_at"]), "finished_at": _iso(r["finished_at"])} for r in rows]


def _too_old(started_at: datetime) -> bool:
    return datetime.now(timezone.utc) - started_at > MAX_RESUME_AGE


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
