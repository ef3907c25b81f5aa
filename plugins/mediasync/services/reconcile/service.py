"""Nightly reconciliation, the way `rclone check` works: list one side completely, diff against
the other, classify. The listing (`listing.py`) streams into PostgreSQL with COPY and the diff is
SQL (`repair.py`), so memory stays flat as the library grows. This module runs one reconciliation:
it validates the request, takes the per-inventory lock, records the run, decides what the safety
rails allow, and writes the reports. The lock is a transaction-scoped advisory lock held by a lock
transaction for the whole run (`mediasync.db.locks`), so two runs of one inventory never overlap —
and never share its snapshot — through a direct connection, a session pooler or Supabase's
transaction pooler alike; a run whose lock connection is lost stops before its next write.

Safety rails: only the managed folders are listed and diffed (`mediasync.scope`; the whole account
only with scope "account"; a folder narrows, never widens); dry run unless `apply`; no action unless
the listing completed; assets already queued for deletion are not counted again; deletions above
max(100, fraction × assets) abort unless `force`; rows are never deleted; deletions go through
the cleanup queue, which refuses to delete an asset an active row uses. A run is always finished
on a fresh connection, and a run a crash left `running` is closed by the next run of its inventory.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, Literal

from mediasync.config import Settings
from mediasync.db import Database, HeldLock, held_lock
from mediasync.errors import DatabaseUnavailable, MediasyncError, StoreError
from mediasync.repository.notifications import NotificationRepository
from mediasync.repository.reconciliation import ReconciliationRepository
from mediasync.scope import ManagedScope, ResolvedFolderMode, resolve_folder_mode
from mediasync.services.content import safe_folder
from mediasync.services.queue import CleanupQueueProcessor
from mediasync.services.reconcile.cadence import RunPlan, plan_run
from mediasync.services.reconcile.listing import SnapshotLister
from mediasync.services.reconcile.repair import DriftRepair
from mediasync.services.reconcile.reports import SupabaseReportStore, render_reports
from mediasync.services.reconcile.request import ReconcileRequest
from mediasync.services.reconcile.run import ReconcileResult, ReconciliationRun
from mediasync.store import DELIVERY_TYPE, RESOURCE_TYPES, AssetStore

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
QUEUE_DRAIN_SECONDS = 300  # after an applied run, how long to work through the deletions it queued
FINISH_ATTEMPTS = 3  # recording a run's end survives a database restart of a few seconds
FINISH_RETRY_SECONDS = 1.0

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
        self.repair = DriftRepair(db, self.repo)

    def run(self, request: ReconcileRequest | None = None, *, requested_by: str | None = None,
            process_queue: bool = True, **fields: Any) -> ReconcileResult:
        """One reconciliation as `request` asks (or `fields` of a ReconcileRequest); `requested_by`
        is recorded on the run. Dry run unless `apply`; see the module docstring for the rails."""
        asked = (request or ReconcileRequest.parse(fields)).resolved(self.settings)
        apply, force, scope, kind = asked.apply, asked.force, asked.scope, asked.kind
        fraction, grace = float(asked.max_delete_fraction or 0), int(asked.grace_minutes or 0)
        narrowed = safe_folder(asked.folder) if asked.folder else None
        params: dict[str, Any] = {**asked.model_dump(), "folder": narrowed, "max_delete_fraction": fraction,
                                  "grace_minutes": grace}
        mode: Literal["dry_run", "apply"] = "apply" if apply else "dry_run"
        started = time.monotonic()
        with self.db.transaction() as conn:  # a database not set up fails here, before any Cloudinary call
            self.repo.ensure_ready(conn)
        try:
            managed = self._scope(scope == "account", narrowed)
        except StoreError as exc:  # Cloudinary did not say which folder mode it uses: nothing listed, no action
            result = self._start(mode, params, f"{DELIVERY_TYPE}:unresolved", requested_by)
            result.status = "incomplete"
            result.message = f"could not tell Cloudinary's folder mode: {exc}; no action taken"
            return self._finish(result, started)
        key = managed.inventory_key
        params.update(folder_mode=managed.mode, inventory_key=key)
        with self.db.transaction() as conn:
            plan = plan_run(kind, self.repo.cadence(conn, key),
                            timedelta(days=self.settings.reconcile_full_every_days), datetime.now(timezone.utc))
        params["kind_reason"] = plan.reason
        result = self._start(mode, params, key, requested_by, plan)
        log.info("reconciliation %d of %s: %s listing — %s", result.run_id, key, plan.kind, plan.reason)
        try:
            with held_lock(self.db, partial(self.repo.try_lock, key=key), f"reconciliation {result.run_id}") as lock:
                if lock is None:
                    result.status, result.message = "aborted", "another reconciliation of this inventory is running"
                    return self._finish(result, started)
                with self.db.transaction() as conn:
                    closed = self.repo.close_interrupted_runs(conn, key, result.run_id)
                if closed:
                    log.warning("closed %d earlier run(s) of %s left running by a crash", closed, key)
                self._run_locked(result, managed, plan, apply, force, fraction, grace, process_queue, lock)
        except MediasyncError as exc:
            result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("reconciliation %d failed", result.run_id)
        return self._finish(result, started)

    def _scope(self, whole_account: bool, folder: str | None) -> ManagedScope:
        """What this run covers: the managed folders (or, on explicit request, the account), in the
        account's folder mode, narrowed to `folder` — never widened by it."""
        scope = ManagedScope.from_settings(self.settings, self.folder_mode(), whole_account=whole_account)
        return scope.narrowed_to(folder) if folder else scope

    def folder_mode(self) -> ResolvedFolderMode:
        """The account's folder mode as this run lists it (`scope.resolve_folder_mode`; auto asks Cloudinary)."""
        return resolve_folder_mode(self.settings.cloudinary_folder_mode, self._detected_folder_mode)

    def _detected_folder_mode(self) -> ResolvedFolderMode | None:
        detected = self.store.folder_mode()
        log.info("Cloudinary folder mode: %s", detected or "undetermined (no assets), using fixed")
        return detected

    def _notification_repairs(self, run_id: int, key: str) -> int:
        """Rows Cloudinary notifications repaired since the inventory's previous complete run: beside
        the drift this run had to find, the health figure of the notification channel."""
        with self.db.transaction() as conn:
            since = self.repo.previous_complete_run_start(conn, key, run_id) or EPOCH
            return sum(int(r["rows"] or 0) for r in NotificationRepository().repairs_since(conn, since))

    def _start(self, mode: Literal["dry_run", "apply"], params: dict[str, Any], key: str, requested_by: str | None,
               plan: RunPlan | None = None) -> ReconcileResult:
        plan = plan or RunPlan("full", "")
        with self.db.transaction() as conn:
            run = self.repo.create_run(conn, mode, params, key, plan.kind, plan.uploaded_after, requested_by)
        return ReconcileResult(id=run["id"], mode=mode, kind=plan.kind, kind_reason=plan.reason, params=params,
                               listed_since=plan.uploaded_after, status="failed", started_at=run["started_at"],
                               triggered_by=requested_by)

    def _run_locked(self, result: ReconcileResult, scope: ManagedScope, plan: RunPlan, apply: bool, force: bool,
                    fraction: float, grace: int, process_queue: bool, lock: HeldLock) -> None:
        """The run proper, holding the inventory's lock: it writes the inventory's snapshot and queues
        repairs only while `lock.ensure()` says the lock transaction is still there."""
        key = scope.inventory_key
        lister = SnapshotLister(self.db, self.store, self.resource_types, self.settings.reconcile_admin_api_reserve,
                                self.repo, guard=lock.ensure, concurrency=self.settings.reconcile_listing_concurrency)
        listing = lister.list(scope, plan.uploaded_after, plan_ranges=False)
        # The next full listing's ranges are planned from the snapshot on a connection of their own,
        # beside the summary and the diff: two statements on a server's two cores, not one after the other.
        with ThreadPoolExecutor(1, thread_name_prefix="listing-plan") as planner:
            planned = planner.submit(lister.plan_ranges, scope, listing)
            with self.db.transaction() as conn:
                summary = self.repo.listing_summary(conn, key)
            result.assets_listed = summary["assets_listed"]
            if not listing.complete:
                result.status, result.message, result.resume_at = "incomplete", listing.message, listing.resume_at
                result.counts = {"assets_listed": result.assets_listed, "unmanaged": summary["unmanaged"],
                                 "placeholders": summary["placeholders"]}
                return
            result.listing_complete = True
            lock.ensure()
            diff = self.repair.diff(run_id=result.run_id, scope=scope, resource_types=self.resource_types,
                                    grace_cutoff=datetime.now(timezone.utc) - timedelta(minutes=grace),
                                    listing_started_at=summary["started_at"], assets_listed=result.assets_listed,
                                    rows_created_after=plan.rows_created_after)
            planned.result()
        cap = diff.cap(fraction)
        result.counts = {**diff.counts, "assets_listed": result.assets_listed, "unmanaged": summary["unmanaged"],
                         "placeholders": summary["placeholders"], "deletion_cap": cap, "queued_deletions": 0,
                         "held_deletions": 0, "updated_rows": 0, "found_by_reconciliation": diff.total,
                         "repaired_by_notifications": self._notification_repairs(result.run_id, key)}
        if apply and diff.deletions > cap and not force:
            result.status = "aborted"
            result.message = (f"{diff.deletions} deletions exceed the safety cap of {cap} "
                              f"(max(100, {fraction:g} × {result.assets_listed} assets)); nothing was changed — "
                              f"check the report, then re-run with force=true if this is intended")
        elif apply:
            lock.ensure()
            repairs = self.repair.apply(result.run_id, key, self.settings.database_settings(),
                                        assets_listed=result.assets_listed,
                                        forced_by=f"reconciliation run {result.run_id} (force)" if force else None)
            result.counts["queued_deletions"] = repairs.queued_deletions
            result.counts["updated_rows"] = repairs.updated_rows
            result.counts["held_deletions"] = repairs.queued_deletions if repairs.batch_status == "held" else 0
            result.status = "completed"
            result.message = (f"{diff.total} drift items; queued {repairs.queued_deletions} deletions, "
                              f"updated {repairs.updated_rows} rows")
            if repairs.batch_status == "held":
                result.message += (f"; deletion batch {repairs.deletion_batch} is held by the delete brake "
                                   f"({repairs.hold_reason}): release or undo it")
            if process_queue and self.processor and repairs.queued_deletions:
                drained = self.processor.process(time_budget=QUEUE_DRAIN_SECONDS)
                result.counts["processed_deletions"] = drained.completed
        else:
            result.status = "completed"
            result.message = f"dry run: {diff.total} drift items found, nothing changed"
        lock.ensure()
        with self.db.transaction() as conn:
            self.repo.clear_inventory(conn, key)  # consumed; the next run lists afresh

    # --- output --------------------------------------------------------------------------

    def _finish(self, result: ReconcileResult, started: float) -> ReconcileResult:
        """Record the outcome on a fresh connection (the run's own may have died with the database),
        retried briefly; a run is never left `running` by a lost connection — and if the database
        stays away, the next run of the inventory closes it."""
        result.duration_seconds = round(time.monotonic() - started, 3)
        for attempt in range(FINISH_ATTEMPTS):
            try:
                with self.db.transaction() as conn:
                    self.repo.finish_run(conn, result.run_id, status=result.status, counts=result.counts,
                                         message=result.message, listing_complete=result.listing_complete,
                                         assets_listed=result.assets_listed)
                break
            except DatabaseUnavailable as exc:
                if attempt == FINISH_ATTEMPTS - 1:
                    log.error("could not record the end of reconciliation %d (%s): %s", result.run_id,
                              result.status, exc)
                    return result
                time.sleep(FINISH_RETRY_SECONDS * (attempt + 1))
        try:
            self._report(result)
        except MediasyncError as exc:
            log.error("could not write the report of reconciliation %d: %s", result.run_id, exc)
        log.info("reconciliation %d (%s): %s — %s", result.run_id, result.mode, result.status, result.message)
        return result

    def _report(self, result: ReconcileResult) -> None:
        files = render_reports(self.db, result.run_id, Path(self.settings.report_dir))
        result.report_csv, result.report_html = str(files.csv), str(files.html)
        result.report_url = self._publish(files.html, result.run_id)
        with self.db.transaction() as conn:
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

    def recent_runs(self, limit: int = 20) -> list[ReconciliationRun]:
        with self.db.transaction() as conn:
            rows = self.repo.recent_runs(conn, limit)
        return [ReconciliationRun.model_validate(r) for r in rows]
