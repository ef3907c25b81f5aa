"""An upload whose COMMIT is lost with the connection: the server may have committed and only the
answer is gone, or the COMMIT never arrived. The upload learns which from the data before it
compensates, so it never destroys the asset of a row that landed (a row pointing at nothing), and
when the database stays away it keeps the asset for the reconciliation to judge.

The cut happens on the wire (a proxy in front of the real PostgreSQL), as a dying server does it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from fixtures.media import tiny_png
from mediasync.db import Database
from mediasync.errors import CommitUncertain, Conflict, DatabaseUnavailable
from mediasync.runtime import Services, build_services
from mediasync.services import media_library
from support.wire import CommitCutter, commit_cutter

pytestmark = pytest.mark.reliability


@pytest.fixture
def cutter(db_url: str) -> Iterator[CommitCutter]:
    with commit_cutter(db_url) as proxy:
        yield proxy


@pytest.fixture
def cut_services(cutter: CommitCutter, cloudinary_store, settings) -> Services:
    """The services as production wires them, talking to PostgreSQL through the cutter."""
    return build_services(Database(cutter.url, max_attempts=settings.max_attempts), cloudinary_store, settings)


def state(db_url: str, cloudinary_store) -> tuple[set[str], set[str], set[str]]:
    """Rows, the upload folder's assets, and the public_ids queued for compensation."""
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        rows = {r["public_id"] for r in conn.execute("SELECT public_id FROM media_files")}
        queued = {r["public_id"] for r in conn.execute(
            "SELECT public_id FROM cloudinary_cleanup_queue WHERE reason = 'upload_compensation'")}
    assets = {a.public_id for a in cloudinary_store.iter_resources("image", "upload")
              if a.asset_folder == "main-uploads"}
    return rows, assets, queued


def test_a_commit_whose_answer_is_lost_keeps_the_upload_that_landed(cutter, cut_services, db_url, cloudinary_store,
                                                                    emulator_folder_mode, caplog):
    cutter.arm("answer")
    record = cut_services.media.upload(tiny_png(11), "landed.png", tags=["kept"])
    assert cutter.cut.is_set(), "the COMMIT's answer was never cut"
    assert record.tags == ["kept"] and record.original_filename
    rows, assets, queued = state(db_url, cloudinary_store)
    assert rows == assets == {record.public_id} and not queued
    assert "its row landed" in caplog.text


def test_a_commit_that_never_arrived_is_compensated(cutter, cut_services, db_url, cloudinary_store,
                                                    emulator_folder_mode):
    cutter.arm("request")
    with pytest.raises(DatabaseUnavailable, match="could not be saved, so it was undone") as raised:
        cut_services.media.upload(tiny_png(12), "rolled-back.png")
    assert cutter.cut.is_set() and not isinstance(raised.value, CommitUncertain)
    assert state(db_url, cloudinary_store) == (set(), set(), set())


@pytest.mark.parametrize("cut", ["answer", "request"])
def test_a_database_that_stays_away_leaves_the_asset_for_the_reconciliation(cut, cutter, cut_services, services, db_url,
                                                                           cloudinary_store, emulator_folder_mode,
                                                                           monkeypatch):
    monkeypatch.setattr(media_library, "UNCERTAIN_SAVE_PATIENCE_S", 0.5)
    cutter.arm(cut, then_refuse=True)
    with pytest.raises(CommitUncertain, match=r"may or may not have been saved.*Its asset is kept") as raised:
        cut_services.media.upload(tiny_png(13), "unknown.png")
    assert "Traceback" not in str(raised.value)
    rows, assets, queued = state(db_url, cloudinary_store)
    assert len(assets) == 1 and not queued
    assert rows == (assets if cut == "answer" else set())  # never a row without its asset

    # Once the database is back, the reconciliation settles it: a row keeps its asset, an asset
    # with no row is an orphan (grace 0 here; by default it waits out its grace period first).
    result = services.reconciler.run(apply=True, grace_minutes=0)
    services.processor.process()
    assert result.counts["orphan_asset"] == (0 if cut == "answer" else 1)
    rows, assets, _ = state(db_url, cloudinary_store)
    assert rows == assets


def test_a_commit_the_server_refuses_is_compensated_at_once(services, conn, db_url, cloudinary_store,
                                                            emulator_folder_mode, caplog):
    """An error the server answers COMMIT with (here a deferred constraint) is a certain rollback:
    no asking around, the asset goes at once."""
    conn.execute("""
        CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation'; END $$;
        CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON media_files
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();""")
    with pytest.raises(Conflict, match="refused at commit"):
        services.media.upload(tiny_png(14), "refused.png")
    assert state(db_url, cloudinary_store) == (set(), set(), set())
    assert "its row landed" not in caplog.text and "may or may not" not in caplog.text
