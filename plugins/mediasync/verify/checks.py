"""`mediasync verify`: prove every sync feature works against the configured database and Cloudinary.

Safe to run in production: every check works in the verification's own namespace — a throw-away
folder `mediasync-verify/<token>` and the tag `mediasync-verify` — processes only the queue entries
it created, and `namespace.VerifyNamespace` removes everything afterwards: rows, assets, queue
entries, its reconciliation run and that run's report files. History, queue counts and the
Cloudinary listing outside the namespace are left exactly as they were.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

from mediasync.clients.cloudinary import CloudinaryClient
from mediasync.db import Database, connection_mode
from mediasync.db.pooling import LISTEN_NEEDS, SESSION_FIX
from mediasync.errors import MediasyncError
from mediasync.repository.migrations import discover, pending
from mediasync.services.media_library import MediaLibraryService
from mediasync.services.queue import CleanupQueue
from mediasync.services.retry import RetryPolicy
from mediasync.store import DELIVERY_TYPE, StoredAsset
from mediasync.verify.session import VerifySession, tiny_png

Outcome = Literal["PASS", "FAIL", "SKIP"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    outcome: Outcome
    detail: str
    seconds: float

    @property
    def ok(self) -> bool:
        """Nothing failed (a skipped check is not a failure, nor a pass)."""
        return self.outcome != "FAIL"


class CheckFailed(AssertionError):
    pass


class CheckSkipped(Exception):
    """The check could not run here (a feature not configured, or an earlier failure it needs)."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@contextmanager
def unreachable_endpoint() -> Iterator[str]:
    """An address nothing answers on while the block runs (a bound port that does not listen), so a
    client pointed at it fails the way it does in an outage: the connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class SyncVerifier(VerifySession):
    """The checks, in order; each reports PASS, FAIL or SKIP with one line saying what it saw."""

    def run(self) -> list[CheckResult]:
        checks: list[tuple[str, Callable[[], str]]] = [
            ("database connection", self.check_connection),
            ("database schema is current", self.check_schema),
            ("upload syncs Cloudinary and media_files", self.check_upload),
            ("soft delete removes the asset", self.check_soft_delete),
            ("hard delete cascades and removes the asset", self.check_hard_delete),
            ("direct SQL delete → queue → Cloudinary", self.check_direct_sql_delete),
            ("failed save after upload is compensated", self.check_compensation),
            ("failed cleanup is retried", self.check_retry),
            ("live notifications for INSERT/UPDATE/DELETE", self.check_notifications),
            ("reconciliation finds planted drift", self.check_reconciliation),
            ("Supabase HTTP API", self.check_supabase),
        ]
        results = []
        try:
            for name, check in checks:
                results.append(self._timed(name, check))
        finally:
            self._cleanup()
        return results

    def _timed(self, name: str, check: Callable[[], str]) -> CheckResult:
        started = time.monotonic()
        outcome: Outcome = "PASS"
        try:
            if not self._schema_ok and check != self.check_schema:
                raise CheckSkipped("needs the current schema (see the first row)")
            detail = check()
        except CheckSkipped as exc:
            detail, outcome = str(exc), "SKIP"
        except CheckFailed as exc:
            detail, outcome = str(exc), "FAIL"
        except MediasyncError as exc:
            detail, outcome = f"{type(exc).__name__}: {exc}", "FAIL"
        return CheckResult(name, outcome, detail, round(time.monotonic() - started, 2))

    # --- checks --------------------------------------------------------------------------

    def check_connection(self) -> str:
        """What the DSN connects through, and what that allows (the probe `mediasync.db` uses)."""
        kind = connection_mode(self.s.db)
        if kind.has_sessions:
            return f"{kind.describe()}: every feature has the session it needs"
        return (f"{kind.describe()}: uploads, deletes, the queue, retention, notifications, reconciliation and "
                f"`db upgrade` work through it; {LISTEN_NEEDS} needs a session: {SESSION_FIX}")

    def check_schema(self) -> str:
        self._schema_ok = False
        with self.s.db.transaction() as conn:
            missing = pending(conn, discover())
        expect(not missing, f"pending migrations: {', '.join(m.version for m in missing)}; "
                            f"fix: run `mediasync db upgrade`")
        self._schema_ok = True
        return f"{len(discover())} migrations applied"

    def check_upload(self) -> str:
        listening = self._listening()
        record = self._upload()
        expect(record.status == "active", f"row status is {record.status}")
        expect(record.folder == self.folder, f"public_id {record.public_id} not in {self.folder}")
        expect(self._asset_exists(record.public_id), f"asset {record.public_id} not in Cloudinary")
        if listening:
            expect(self._wait_event("INSERT", record.id), "no INSERT notification within 5 s")
        return f"{record.public_id} ({record.bytes} bytes) in Cloudinary and media_files"

    def check_soft_delete(self) -> str:
        record = self._upload()
        outcome = self.media.soft_delete(record.id)
        expect(outcome.cloudinary == "deleted", f"Cloudinary removal: {outcome.cloudinary} ({outcome.message})")
        row = self.media.get(record.id)
        expect(row.status == "deleted" and row.deleted_at is not None, "row not marked deleted with deleted_at")
        expect(not self._asset_exists(record.public_id), "asset still in Cloudinary")
        return "row status=deleted, deleted_at set, asset gone"

    def check_hard_delete(self) -> str:
        record = self._upload()
        with self.s.db.transaction() as conn:
            self.media_repo.add_tags(conn, record.id, ["verify"])
            self.media_repo.add_usage(conn, record.id, "verify", "1")
        outcome = self.media.hard_delete(record.id)
        expect(outcome.cloudinary == "deleted", f"Cloudinary removal: {outcome.cloudinary} ({outcome.message})")
        with self.s.db.transaction() as conn:
            left = self.media_repo.related_counts(conn, record.id)
        expect(left == {"rows": 0, "tags": 0, "usage": 0}, f"rows left behind: {left}")
        expect(not self._asset_exists(record.public_id), "asset still in Cloudinary")
        return "row, tags and usage gone; asset gone"

    def check_direct_sql_delete(self) -> str:
        record = self._upload()
        self._delete_as_plain_sql(record.id)
        queued = self._queue_entry(record.public_id)
        expect(queued is not None and queued["reason"] == "db_delete", f"no db_delete queue entry: {queued}")
        assert queued is not None
        self.s.queue.process_batch(1, ids=[queued["id"]])  # ours only: never someone else's backlog
        after = self._queue_entry(record.public_id)
        expect(after is not None and after["status"] == "completed", f"queue entry is {after and after['status']}")
        expect(not self._asset_exists(record.public_id), "asset still in Cloudinary")
        return f"queue entry {queued['id']} completed; asset gone"

    def check_compensation(self) -> str:
        # The same database, refusing writes: the upload succeeds, saving its row fails for real.
        refusing = Database(self.s.db.url, application_name="mediasync-verify", read_only=True)
        media = MediaLibraryService(refusing, self.s.store, self.settings)
        before = self._folder_assets()
        try:
            self._upload(media)
        except MediasyncError:
            pass
        else:
            raise CheckFailed("the upload succeeded although saving the row failed")
        after = self._folder_assets()
        expect(after <= before, f"orphaned assets left behind: {sorted(after - before)}")
        return "the save failed and the uploaded asset was destroyed"

    def check_retry(self) -> str:
        record = self._upload()
        self._delete_as_plain_sql(record.id)
        pending_entry = self._queue_entry(record.public_id)
        expect(pending_entry is not None and pending_entry["status"] == "pending", f"no pending entry: {pending_entry}")
        assert pending_entry is not None
        entry = pending_entry["id"]
        policy = RetryPolicy(base_seconds=0, jitter=0)
        if not isinstance(self.s.store, CloudinaryClient):
            raise CheckSkipped(f"needs the Cloudinary client, not {type(self.s.store).__name__}")
        with unreachable_endpoint() as nowhere:  # attempt 1: Cloudinary cannot be reached
            down = CloudinaryClient(replace(self.s.store.credentials, api_base_url=nowhere), retry_attempts=1)
            first = CleanupQueue(self.s.db, down, retry_policy=policy).process_batch(1, ids=[entry])
        expect(first.retrying == 1, f"the failed attempt was not scheduled for retry: {first.as_dict()}")
        second = CleanupQueue(self.s.db, self.s.store, retry_policy=policy).process_batch(1, ids=[entry])
        expect(second.deleted == 1, f"the retry did not delete the asset: {second.as_dict()}")
        with self.s.db.transaction() as conn:
            final = self.queue_repo.get(conn, entry) or {}
        row = {"status": final.get("status"), "attempts": final.get("attempts"), "errors": len(final.get("errors", []))}
        expect(row == {"status": "completed", "attempts": 2, "errors": 1}, f"queue entry: {row}")
        expect(not self._asset_exists(record.public_id), "asset still in Cloudinary")
        return "attempt 1 failed and was recorded; attempt 2 deleted the asset"

    def check_notifications(self) -> str:
        self._listen()  # through a transaction pooler: fails here, naming the fix, before changing anything
        record = self._upload()
        with self.s.db.transaction() as conn:
            self.media_repo.update_original_filename(conn, record.id, "verify-renamed.png")
        self._delete_as_plain_sql(record.id)
        for op in ("INSERT", "UPDATE", "DELETE"):
            expect(self._wait_event(op, record.id), f"no {op} notification within 5 s")
        self.namespace.process_own_queue()
        return "INSERT, UPDATE and DELETE each notified with the row id"

    def check_reconciliation(self) -> str:
        self._seed += 1
        orphan = self.s.store.upload(tiny_png(self._seed), upload_preset=self.s.settings.upload_preset,
                                     folder=self.folder, resource_type="image", filename="verify-orphan.png")
        self.namespace.public_ids.add(orphan.public_id)
        missing_id = f"{self.folder}/verify-missing-{secrets.token_hex(4)}"
        missing = StoredAsset(public_id=missing_id, resource_type="image", type=DELIVERY_TYPE, format="png", bytes=1,
                              version=1, etag=None, secure_url=None, folder=self.folder)
        with self.s.db.transaction() as conn:  # a row whose asset never existed
            self.media_repo.insert(conn, missing)
        # The verify folder is mediasync's own scratch area, usually outside the managed folders: an
        # explicit account scope narrowed to it (a dry run; nothing else is listed).
        result = self.s.reconciler.run(apply=False, folder=self.folder, grace_minutes=0, scope="account")
        self.namespace.runs.append(result.run_id)  # removed again with its report files: no trace in the history
        expect(result.status == "completed", f"run {result.run_id}: {result.status} — {result.message}")
        with self.s.db.transaction() as conn:
            items = [{"kind": i["kind"], "public_id": i["public_id"]}
                     for i in self.runs_repo.items(conn, result.run_id, ["orphan_asset", "missing_asset"])]
        expected = [{"kind": "missing_asset", "public_id": missing_id},
                    {"kind": "orphan_asset", "public_id": orphan.public_id}]
        expect(items == expected, f"run {result.run_id} reported {items}, expected {expected}")
        return f"run {result.run_id} reported exactly the planted orphan and missing asset"

    def check_supabase(self) -> str:
        url, key = self.s.settings.supabase_url, self.s.settings.supabase_service_role_key
        if not (url and key):
            raise CheckSkipped("SUPABASE_URL / SUPABASE_SERVICE_ROLE_KEY not set")
        import httpx

        response = httpx.get(f"{url.rstrip('/')}/rest/v1/media_files", params={"select": "id", "limit": "1"},
                             headers={"apikey": key, "Authorization": f"Bearer {key}"}, timeout=15)
        expect(response.status_code == 200, f"GET /rest/v1/media_files answered {response.status_code}")
        return "the Data API serves media_files with the service role key"
