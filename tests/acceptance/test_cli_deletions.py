"""`mediasync deletions` as an operator runs it: a mass DELETE typed in psql shows up as one held
batch naming its session; `show` says who and what; `release` lets it flow; `undo` brings the rows
back; bad ids are one line and a non-zero exit; `db upgrade` publishes the brake's settings."""

from __future__ import annotations

import json

import psycopg

from fixtures.media import tiny_png
from support.cli import assert_clean_error, run_cli


def uploaded(services, count: int) -> list[str]:
    return [services.media.upload(tiny_png(900 + i), f"d{i}.png").public_id for i in range(count)]


def test_list_show_and_undo_a_held_psql_delete(services, db_url, emulator, conn):
    uploaded(services, 12)
    with psycopg.connect(db_url, autocommit=True, application_name="psql") as psql:
        psql.execute("DELETE FROM media_files")
    env = {"database_url": db_url, "CLOUDINARY_URL": emulator.cloudinary_url}

    listed = run_cli("deletions", "list", "--json", **env)
    assert listed.returncode == 0, listed.stderr
    (batch,) = json.loads(listed.stdout)["items"]
    assert (batch["status"], batch["application_name"], batch["assets"]) == ("held", "psql", 12)
    human = run_cli("deletions", "list", "--status", "held", **env)
    assert f"{batch['id']:>6}  held" in human.stdout and "held: 12 assets are 100.0%" in human.stdout

    shown = run_cli("deletions", "show", str(batch["id"]), **env)
    assert shown.returncode == 0, shown.stderr
    assert "application_name" in shown.stdout and "psql" in shown.stdout and "sample:" in shown.stdout

    undone = run_cli("deletions", "undo", str(batch["id"]), "--json", **env)
    assert undone.returncode == 0, undone.stderr
    result = json.loads(undone.stdout)
    assert (result["rows_restored"], result["assets_kept"], result["not_restorable"]) == (12, 12, [])
    assert result["decided_by"].endswith("(CLI)")
    assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == 12
    again = run_cli("deletions", "undo", str(batch["id"]), **env)
    assert again.returncode == 0 and "was already undone" in again.stdout


def test_release_lets_a_held_batch_flow(services, db_url, emulator, conn, cloudinary_store):
    uploaded(services, 12)
    conn.execute("DELETE FROM media_files")
    batch = conn.execute("SELECT id FROM mediasync.deletion_batches").fetchone()["id"]
    env = {"database_url": db_url, "CLOUDINARY_URL": emulator.cloudinary_url}
    released = run_cli("deletions", "release", str(batch), **env)
    assert released.returncode == 0, released.stderr
    assert f"batch {batch} released: 12 deletions" in released.stdout
    drained = run_cli("queue", "process", "--json", **env)
    assert json.loads(drained.stdout)["deleted"] == 12
    assert list(cloudinary_store.iter_resources()) == []
    refused = run_cli("deletions", "undo", "999999", **env)
    assert_clean_error(refused, "deletion batch 999999 not found")


def test_db_upgrade_publishes_the_brake_settings_for_plain_sql(db_url, conn):
    result = run_cli("db", "upgrade", database_url=db_url, MEDIASYNC_DELETE_HOLD_THRESHOLD="2",
                     MEDIASYNC_DELETE_HOLD_FRACTION="0", MEDIASYNC_DELETE_DELAY_SECONDS="60")
    assert result.returncode == 0, result.stderr
    settings = {r["name"]: r["value"] for r in conn.execute("SELECT name, value FROM mediasync.runtime_settings")}
    assert (settings["delete_hold_threshold"], settings["delete_hold_fraction"], settings["delete_delay_seconds"]) \
        == ("2", "0", "60")
    conn.execute("INSERT INTO media_files (public_id) VALUES ('main-uploads/a'), ('main-uploads/b'), "
                 "('main-uploads/c')")
    conn.execute("DELETE FROM media_files WHERE public_id IN ('main-uploads/a', 'main-uploads/b')")  # 2: flows
    conn.execute("DELETE FROM media_files")  # 1 more: flows; the window rule is far away
    statuses = [r["status"] for r in conn.execute("SELECT status FROM mediasync.deletion_batches ORDER BY id")]
    assert statuses == ["flowing", "flowing"]
    conn.execute("INSERT INTO media_files (public_id) SELECT 'main-uploads/x' || g FROM generate_series(1, 3) g")
    conn.execute("DELETE FROM media_files")  # 3 > 2: held
    assert conn.execute("SELECT status FROM mediasync.deletion_batches ORDER BY id DESC LIMIT 1"
                        ).fetchone()["status"] == "held"
    due = conn.execute("SELECT min(available_at - created_at) AS d FROM cloudinary_cleanup_queue").fetchone()["d"]
    assert due.total_seconds() >= 59  # the trash window


def test_a_malformed_brake_setting_is_one_line_naming_it(db_url):
    assert_clean_error(run_cli("deletions", "list", database_url=db_url, MEDIASYNC_DELETE_HOLD_FRACTION="2"),
                       "MEDIASYNC_DELETE_HOLD_FRACTION")
