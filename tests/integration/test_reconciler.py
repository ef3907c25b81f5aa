"""Reconciliation on planted drift: real PostgreSQL, the official SDK against the emulator."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from fixtures.emulator import seeded_public_id
from fixtures.media import tiny_png
from mediasync.scope import ManagedScope
from mediasync.services.reconcile import Reconciler
from mediasync.services.reconcile.reports import SupabaseReportStore

REPAIRABLE = ("orphan_asset", "undeleted_asset", "metadata_mismatch")


def items(conn, run_id: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in conn.execute("SELECT kind, public_id FROM mediasync.reconciliation_items WHERE run_id = %s", (run_id,)):
        found.setdefault(row["kind"], set()).add(row["public_id"])
    return found


def listed(hook) -> set[str]:
    return {a.public_id for rt in ("image", "video", "raw") for a in hook.iter_resources(rt, "upload", None)}


@pytest.fixture
def drift(services, cloudinary_store, conn) -> dict[str, str]:
    """One planted item of every drift class, among healthy media."""
    healthy = [services.media.upload(tiny_png(100 + i), f"ok{i}.png") for i in range(3)]
    orphan = cloudinary_store.upload(tiny_png(200), upload_preset="tap2go-uploads", folder="main-uploads",
                                    resource_type="image", filename="orphan.png")
    undeleted = services.media.upload(tiny_png(201), "undeleted.png")
    conn.execute("UPDATE media_files SET status = 'deleted' WHERE id = %s", (undeleted.id,))
    conn.execute("DELETE FROM cloudinary_cleanup_queue")  # as if the cleanup had been lost
    mismatch = services.media.upload(tiny_png(202), "mismatch.png")
    conn.execute("UPDATE media_files SET bytes = bytes + 1000, version = 1 WHERE id = %s", (mismatch.id,))
    conn.execute("INSERT INTO media_files (public_id, format, bytes, folder, created_at) "
                 "VALUES ('main-uploads/missing', 'png', 10, 'main-uploads', now() - interval '2 hours')")
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, attempts, last_error) "
                 "VALUES ('main-uploads/stuck', 'db_delete', 'failed', 3, 'HTTP 500')")
    return {"orphan_asset": orphan.public_id, "undeleted_asset": undeleted.public_id,
            "metadata_mismatch": mismatch.public_id, "missing_asset": "main-uploads/missing",
            "stuck_queue": "main-uploads/stuck", "healthy": ",".join(h.public_id for h in healthy)}


def test_dry_run_reports_exactly_the_planted_drift_and_changes_nothing(services, cloudinary_store, conn, drift):
    before_assets = listed(cloudinary_store)
    before_rows = conn.execute("SELECT id, status, bytes, version FROM media_files ORDER BY id").fetchall()
    before_queue = conn.execute("SELECT id, status FROM cloudinary_cleanup_queue ORDER BY id").fetchall()

    result = services.reconciler.run(grace_minutes=0)

    assert (result.status, result.mode, result.listing_complete) == ("completed", "dry_run", True)
    assert items(conn, result.run_id) == {kind: {pid} for kind, pid in drift.items() if kind != "healthy"}
    assert {k: result.counts[k] for k in drift if k != "healthy"} == {k: 1 for k in drift if k != "healthy"}
    assert result.assets_listed == 6
    assert listed(cloudinary_store) == before_assets
    assert conn.execute("SELECT id, status, bytes, version FROM media_files ORDER BY id").fetchall() == before_rows
    assert conn.execute("SELECT id, status FROM cloudinary_cleanup_queue ORDER BY id").fetchall() == before_queue

    with Path(result.report_csv).open() as report_csv:
        rows = list(csv.DictReader(report_csv))
    assert sorted(r["kind"] for r in rows) == sorted(k for k in drift if k != "healthy")
    report = Path(result.report_html).read_text()
    assert f"Reconciliation run {result.run_id}" in report and drift["orphan_asset"] in report
    run = services.reconciler.recent_runs(1)[0]
    assert run.id == result.run_id and run.counts["orphan_asset"] == 1 and run.report_csv


def test_apply_repairs_and_a_second_run_finds_no_repairable_drift(services, cloudinary_store, conn, drift):
    result = services.reconciler.run(apply=True, grace_minutes=0)
    assert result.status == "completed"
    assert result.counts["queued_deletions"] == 2 and result.counts["updated_rows"] == 1
    remaining = listed(cloudinary_store)
    assert drift["orphan_asset"] not in remaining and drift["undeleted_asset"] not in remaining
    assert set(drift["healthy"].split(",")) | {drift["metadata_mismatch"]} == remaining
    row = conn.execute("SELECT bytes, version FROM media_files WHERE public_id = %s",
                       (drift["metadata_mismatch"],)).fetchone()
    asset = next(a for a in cloudinary_store.iter_resources("image", "upload", drift["metadata_mismatch"]))
    assert (row["bytes"], row["version"]) == (asset.bytes, asset.version)
    assert conn.execute("SELECT count(*) AS n FROM media_files WHERE public_id = 'main-uploads/missing'"
                        ).fetchone()["n"] == 1  # rows are never deleted by reconciliation

    second = services.reconciler.run(grace_minutes=0)
    assert {k: second.counts[k] for k in REPAIRABLE} == dict.fromkeys(REPAIRABLE, 0)
    assert second.counts["missing_asset"] == 1 and second.counts["stuck_queue"] == 1  # report-only: for people

    conn.execute("DELETE FROM media_files WHERE public_id = 'main-uploads/missing'")  # a person resolves them
    services.processor.process(retry_failed=True)
    third = services.reconciler.run(grace_minutes=0)
    assert sum(third.counts[k] for k in (*REPAIRABLE, "missing_asset", "stuck_queue")) == 0


def test_grace_period_protects_fresh_orphans(services, cloudinary_store):
    cloudinary_store.upload(tiny_png(300), upload_preset="tap2go-uploads", folder="main-uploads",
                           resource_type="image", filename="in-flight.png")
    assert services.reconciler.run(apply=True, grace_minutes=60).counts["orphan_asset"] == 0
    assert len(listed(cloudinary_store)) == 1


def keep_admin_calls(services, reserve: int) -> None:
    services.reconciler.settings = replace(services.reconciler.settings, reconcile_admin_api_reserve=reserve)


def test_truncated_listing_takes_no_action_and_the_next_run_resumes(services, cloudinary_store, emulator, conn):
    emulator.seed(1200, prefix="main-uploads/bulk")
    keep_admin_calls(services, 0)  # list until Cloudinary refuses
    emulator.control(rate_limit=2)  # pages 1-2 of the image listing, then HTTP 420
    first = services.reconciler.run(apply=True, force=True, grace_minutes=0)
    assert (first.status, first.listing_complete) == ("incomplete", False)
    assert "rate limit" in first.message and first.assets_listed == 1000
    assert conn.execute("SELECT count(*) AS n FROM mediasync.reconciliation_items").fetchone()["n"] == 0
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue").fetchone()["n"] == 0
    checkpoint = conn.execute("SELECT cursor, complete, assets_listed FROM mediasync.listing_checkpoints "
                              "WHERE resource_type = 'image'").fetchone()
    assert checkpoint["cursor"] and not checkpoint["complete"] and checkpoint["assets_listed"] == 1000

    emulator.control(rate_limit=0)
    calls_before = emulator.admin_calls()
    second = services.reconciler.run(grace_minutes=0)
    assert second.status == "completed" and second.assets_listed == 1200
    assert second.counts["orphan_asset"] == 1200
    assert emulator.admin_calls() - calls_before == 3  # the last image page, then video and raw: resumed


def test_listing_pauses_to_keep_admin_calls_for_the_cleanup_queue(services, emulator, conn, emulator_folder_mode):
    emulator.seed(1600, prefix="main-uploads/bulk")  # four image pages
    keep_admin_calls(services, 10)
    emulator.control(rate_limit=12)  # page 1 leaves 11 calls, page 2 leaves 10: the reserve
    first = services.reconciler.run(apply=True, force=True, grace_minutes=0)
    assert (first.status, first.listing_complete, first.assets_listed) == ("incomplete", False, 1000)
    assert "10 Admin API calls left this hour, kept for the cleanup queue (reserve 10)" in first.message
    assert emulator.admin_calls() == 2
    assert conn.execute("SELECT count(*) AS n FROM mediasync.reconciliation_items").fetchone()["n"] == 0

    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason) VALUES (%s, 'db_delete')",
                 (seeded_public_id(emulator_folder_mode, "main-uploads/bulk", 1599),))
    drained = services.processor.process()
    assert drained.deleted == 1  # at the reserve, the queue deletes through the Upload API (issue 13.2)...
    assert (drained.deleted_via_upload_api, drained.admin_calls) == (1, 0)  # ...and leaves the Admin calls alone

    emulator.control(rate_limit=0)  # the hour is over
    second = services.reconciler.run(grace_minutes=0)
    assert (second.status, second.assets_listed) == ("completed", 1599)  # the deleted one was on page 4
    assert emulator.admin_calls() == 2 + 0 + 2 + 2  # resumed at page 3: pages 3-4, then video and raw


def test_deletions_over_the_cap_abort_unless_forced(services, cloudinary_store, emulator, conn):
    emulator.seed(150, prefix="main-uploads/bulk")
    aborted = services.reconciler.run(apply=True, grace_minutes=0)
    assert aborted.status == "aborted" and "safety cap of 100" in aborted.message
    assert conn.execute("SELECT count(*) AS n FROM cloudinary_cleanup_queue").fetchone()["n"] == 0
    assert len(listed(cloudinary_store)) == 150

    forced = services.reconciler.run(apply=True, force=True, grace_minutes=0)
    assert forced.status == "completed" and forced.counts["queued_deletions"] == 150
    assert listed(cloudinary_store) == set()


def test_a_second_concurrent_run_is_refused(services, db):
    with db.session() as holder:
        key = ManagedScope.from_settings(services.settings, services.settings.cloudinary_folder_mode).inventory_key
        holder.sql("SELECT pg_advisory_lock(hashtext('mediasync.reconcile'), hashtext(%(key)s))", {"key": key})
        result = services.reconciler.run()
    assert result.status == "aborted" and "another reconciliation" in result.message


def test_report_is_stored_in_supabase_storage(db, cloudinary_store, settings, drift):
    """supabase-py against Supabase Storage's HTTP API, mocked at the transport: the bucket is created
    on first use, the HTML report uploaded with the service role key, a signed URL returned."""
    requests: list[httpx.Request] = []
    report_prefix = "/storage/v1/object/mediasync-reports/reconciliation/"

    def supabase(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        path = request.url.path
        if path.startswith(report_prefix):
            if sum(r.url.path.startswith(report_prefix) for r in requests) == 1:
                return httpx.Response(400, json={"statusCode": "404", "error": "Bucket not found",
                                                 "message": "Bucket not found"})
            return httpx.Response(200, json={"Key": path.removeprefix("/storage/v1/object/")})
        if path == "/storage/v1/bucket":
            return httpx.Response(200, json={"name": "mediasync-reports"})
        if path.startswith("/storage/v1/object/sign/"):
            return httpx.Response(200, json={"signedURL": "/object/sign/mediasync-reports/r.html?token=abc"})
        return httpx.Response(404, json={"message": f"unexpected {request.method} {path}"})

    client = httpx.Client(transport=httpx.MockTransport(supabase))
    store = SupabaseReportStore("https://project.supabase.co", "service-role-key", http_client=client)
    result = Reconciler(db, cloudinary_store, settings, report_store=store).run(grace_minutes=0)

    assert result.report_url == "https://project.supabase.co/storage/v1/object/sign/mediasync-reports/r.html?token=abc"
    assert ("POST", "/storage/v1/bucket") in [(r.method, r.url.path) for r in requests]
    upload = [r for r in requests if r.url.path.startswith(report_prefix)][-1]
    assert upload.url.path == f"{report_prefix}{result.run_id}/report.html"
    assert upload.headers["authorization"] == "Bearer service-role-key"
    assert b"Reconciliation run" in upload.content
    assert json.loads(requests[-1].content)["expiresIn"] == str(7 * 24 * 3600)


def test_the_report_sets_notification_repairs_beside_the_drift_reconciliation_found(services, conn):
    """Issue 12's health figure: rows Cloudinary notifications repaired since the inventory's last
    complete run, beside the drift this run had to find itself."""
    first = services.reconciler.run(grace_minutes=0)
    assert (first.counts["repaired_by_notifications"], first.counts["found_by_reconciliation"]) == (0, 0)
    conn.execute("INSERT INTO mediasync.cloudinary_notifications (body_sha256, notification_type, transport, "
                 "event_at, signed_at, outcome, changed_rows, body) VALUES "
                 "('a', 'delete', 'webhook', now(), now(), 'applied', 2, '{}'), "
                 "('b', 'rename', 'poll', now(), now(), 'applied', 1, '{}'), "
                 "('c', 'upload', 'poll', now(), now(), 'out_of_scope', 0, '{}')")
    second = services.reconciler.run(grace_minutes=0)
    assert second.counts["repaired_by_notifications"] == 3
    conn.execute("UPDATE mediasync.cloudinary_notifications SET received_at = now() - interval '1 day'")
    third = services.reconciler.run(grace_minutes=0)  # since the second run: none
    assert third.counts["repaired_by_notifications"] == 0
