"""`mediasync verify` against a real database and the emulator: every scenario passes, a skipped
one says SKIP, a broken setup fails loudly with a non-zero exit, and — run twice on a database
with real data — it leaves the history, the queue and the Cloudinary listing outside its own
namespace exactly as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fixtures.media import tiny_png
from mediasync.verify import SyncVerifier

SCENARIOS = 11
VERIFY_ROOT = "mediasync-verify/"


def test_every_sync_scenario_passes_and_cleans_up(services, cloudinary_store, conn):
    results = SyncVerifier(services).run()
    assert [r.name for r in results if not r.ok] == [], [(r.name, r.detail) for r in results if not r.ok]
    assert len(results) == SCENARIOS
    assert [(r.name, r.outcome) for r in results if r.outcome != "PASS"] == [("Supabase HTTP API", "SKIP")]
    assert conn.execute("SELECT count(*) AS n FROM media_files WHERE public_id LIKE 'mediasync-verify/%' "
                        "OR folder LIKE 'mediasync-verify/%'").fetchone()["n"] == 0
    leftovers = [a.public_id for rt in ("image", "video", "raw") for a in cloudinary_store.iter_resources(rt)
                 if a.public_id.startswith("mediasync-verify/")
                 or (a.asset_folder or "").startswith("mediasync-verify")]
    assert leftovers == []


def run_verify(db_url: str, cloudinary_url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIASYNC_", "CLOUDINARY_", "AIRFLOW_CONN_"))}
    env.update(MEDIASYNC_DATABASE_URL=db_url, CLOUDINARY_URL=cloudinary_url,
               MEDIASYNC_REPORT_DIR=str(tmp_path / "reports"))
    return subprocess.run([sys.executable, "-m", "mediasync.cli", "verify"], env=env, capture_output=True, text=True,
                          check=False,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_cli_prints_only_its_table_and_exits_zero(db_url, emulator, tmp_path):
    result = run_verify(db_url, emulator.cloudinary_url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == f"{SCENARIOS - 1} passed, 0 failed, 1 skipped"
    assert sum(line.startswith("PASS  ") for line in lines) == SCENARIOS - 1
    assert [line.split()[:3] for line in lines if line.startswith("SKIP")] == [["SKIP", "Supabase", "HTTP"]]
    assert len(lines) == SCENARIOS + 1  # the table and its total, nothing else
    assert result.stderr == ""


def test_through_the_transaction_pooler_it_names_the_mode_and_fails_only_live_updates(pooled_db_url, conn,
                                                                                    emulator, tmp_path):
    result = run_verify(pooled_db_url, emulator.cloudinary_url, tmp_path)
    assert result.returncode == 1 and result.stderr == ""
    assert "Traceback" not in result.stdout
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("PASS  database connection") and "transaction pooler (" in lines[0]
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1 and failed[0].startswith("FAIL  live notifications for INSERT/UPDATE/DELETE")
    assert "needs a session: use the direct connection or the session pooler, port 5432" in failed[0]
    assert lines[-1] == f"{SCENARIOS - 2} passed, 1 failed, 1 skipped"
    assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == 0  # cleaned up, as always


def test_cli_fails_with_wrong_cloudinary_credentials(db_url, emulator, tmp_path):
    wrong = emulator.cloudinary_url.replace(f":{emulator.api_secret}@", ":wrong-secret@")
    result = run_verify(db_url, wrong, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "FAIL  upload syncs Cloudinary and media_files" in result.stdout


def test_a_missing_migration_is_the_first_failing_row_with_the_fix(empty_database_url, emulator, tmp_path):
    result = run_verify(empty_database_url, emulator.cloudinary_url, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("PASS  database connection") and " direct (" in lines[0]
    assert lines[1].startswith("FAIL  database schema is current")
    assert "mediasync db upgrade" in lines[1]
    assert all(line.startswith("SKIP  ") for line in lines[2:-1]), lines
    assert lines[-1] == f"1 passed, 1 failed, {SCENARIOS - 2} skipped"


def _state(conn, store, report_dir) -> dict:
    """Everything verify must leave alone, as text: tables of history and queue, the Cloudinary
    listing outside the verification's namespace, the report files."""
    tables = ["public.media_files", "public.media_tags", "public.media_usage", "public.cloudinary_cleanup_queue",
              "mediasync.reconciliation_runs", "mediasync.reconciliation_items", "mediasync.reconciliation_requests",
              "mediasync.listing_checkpoints", "mediasync.listing_snapshot"]
    state: dict = {t: [r["row"] for r in conn.execute(f"SELECT row_to_json(t)::text AS row FROM {t} t ORDER BY 1")]
                   for t in tables}
    state["queue counts"] = conn.execute("SELECT status, count(*) AS n FROM cloudinary_cleanup_queue "
                                         "GROUP BY status ORDER BY status").fetchall()
    state["cloudinary"] = sorted(json.dumps(a._asdict(), default=str, sort_keys=True)
                                 for rt in ("image", "video", "raw") for a in store.iter_resources(rt, "upload")
                                 if not a.public_id.startswith(VERIFY_ROOT))
    state["reports"] = sorted(p.name for p in report_dir.glob("*")) if report_dir.exists() else []
    return state


def test_twice_on_real_data_leaves_everything_outside_its_namespace_unchanged(services, cloudinary_store, conn,
                                                                              emulator, db_url, tmp_path):
    # Real data: live media with tags and usage, a soft-deleted one whose cleanup completed, a
    # backlog entry for an asset that still exists (processing it would delete it), a failed
    # entry, and a reconciliation run with its report.
    kept = [services.media.upload(tiny_png(900 + i), f"real-{i}.png", tags=["real"]) for i in range(3)]
    gone = services.media.upload(tiny_png(950), "real-gone.png")
    services.media.soft_delete(gone.id)
    conn.execute("INSERT INTO media_usage (media_file_id, entity_type, entity_id) VALUES (%s, 'post', '42')",
                 (kept[0].id,))
    backlog = cloudinary_store.upload(tiny_png(960), folder="main-uploads", resource_type="image",
                                      filename="backlog.png")
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, available_at) "
                 "VALUES (%s, 'reconcile_orphan', now() - interval '1 hour')", (backlog.public_id,))
    conn.execute("INSERT INTO cloudinary_cleanup_queue (public_id, reason, status, attempts, last_error) "
                 "VALUES ('main-uploads/given-up', 'hard_delete', 'failed', 3, 'HTTP 502')")
    services.reconciler.run(apply=False, grace_minutes=0)
    report_dir = tmp_path / "reports"
    before = _state(conn, cloudinary_store, report_dir)
    assert len(before["public.cloudinary_cleanup_queue"]) == 3 and len(before["mediasync.reconciliation_runs"]) == 1

    for _ in range(2):
        result = run_verify(db_url, emulator.cloudinary_url, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr

    assert _state(conn, cloudinary_store, report_dir) == before


def test_every_sync_scenario_passes_in_an_account_with_backups(services, cloudinary_store, conn, emulator):
    """Deleted assets stay as placeholders there: verify does not take one for an asset still there."""
    emulator.control(backups=True)
    results = SyncVerifier(services).run()
    assert [r.name for r in results if not r.ok] == [], [(r.name, r.detail) for r in results if not r.ok]
    live = [a.public_id for rt in ("image", "video", "raw") for a in cloudinary_store.iter_resources(rt)
            if not a.placeholder and (a.public_id.startswith("mediasync-verify/")
                                      or (a.asset_folder or "").startswith("mediasync-verify"))]
    assert live == []
