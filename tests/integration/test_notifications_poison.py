"""Poison notifications on both transports: signed bodies that are nested too deep, typed wrong,
name a traversal path or list too much are refused with a 400 (webhook) or dead-lettered (poll
channel) — nothing stored, nothing changed — and the valid notification behind them still
applies. A message that fails on every receipt for another reason is dead-lettered after the
receive limit, and the messages behind it flow meanwhile."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from fixtures import notifications as cld
from fixtures.media import tiny_png
from mediasync.runtime import Services
from mediasync.services.notifications.service import MAX_RECEIVES

CHANNEL = "mediasync-poison"
CORPUS_NAMES = list(cld.poison_corpus({"public_id": "main-uploads/x", "resource_type": "image", "type": "upload",
                                       "asset_id": "a"}))


def counts(conn) -> dict:
    return conn.execute(
        "SELECT (SELECT count(*) FROM mediasync.cloudinary_notifications) AS notifications, "
        "(SELECT count(*) FROM public.media_files) AS rows, (SELECT count(*) FROM public.media_tags) AS tags, "
        "(SELECT count(*) FROM public.media_files WHERE status = 'active') AS active").fetchone()


@pytest.fixture
def uploaded(services: Services, conn) -> dict:
    record = services.media.upload(tiny_png(71), "target.png")
    return conn.execute("SELECT * FROM public.media_files WHERE id = %s", (record.id,)).fetchone()


@pytest.fixture
def webhook(services: Services):
    """The plugin app in-process: the webhook route needs no Airflow login."""
    from mediasync.api.app import create_app

    with TestClient(create_app(lambda: services), raise_server_exceptions=False) as client:
        yield lambda signed: client.post("/api/v1/cloudinary/notifications", content=signed.raw,
                                         headers=signed.headers())


@pytest.mark.parametrize("case", CORPUS_NAMES)
def test_each_poison_webhook_is_a_400_that_stores_nothing_and_the_next_one_applies(case, services, conn, uploaded,
                                                                                 emulator, webhook):
    before = counts(conn)
    refused = webhook(cld.sign(cld.poison_corpus(uploaded)[case], emulator.api_secret))
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/json" and "malformed" in refused.json()["detail"]
    assert "Traceback" not in refused.text and "x" * 200 not in refused.text
    assert counts(conn) == before  # nothing stored, nothing changed
    applied = webhook(cld.sign(cld.encode(cld.delete(uploaded)), emulator.api_secret))
    assert applied.status_code == 200 and applied.json()["outcome"] == "applied"


def test_poison_poll_messages_are_dead_lettered_and_the_ones_behind_them_apply(services, conn, uploaded, emulator):
    services.notifications.setup("poll", CHANNEL)
    channel = cld.PoisonedChannel(services.notifications.channel, emulator.api_secret)
    services.notifications.channel = channel
    services.notifications.drain(CHANNEL)  # the app's own upload notification, out of the way
    corpus = cld.poison_corpus(uploaded)
    for raw in corpus.values():
        channel.inject(raw)
    emulator.console("delete", public_id=uploaded["public_id"])  # a real notification, queued behind them
    before = counts(conn)

    result = services.notifications.drain(CHANNEL)
    assert (result.received, result.rejected, result.dead_lettered, result.applied, result.failed) == (
        len(corpus) + 1, len(corpus), len(corpus), 1, 0), result
    assert result.acknowledged == len(corpus) + 1
    assert counts(conn)["notifications"] == before["notifications"] + 1  # only the valid one is stored
    assert conn.execute("SELECT deleted_by FROM public.media_files WHERE id = %s",
                        (uploaded["id"],)).fetchone()["deleted_by"] == "cloudinary"
    assert services.notifications.drain(CHANNEL).received == 0  # every message acknowledged
    status = services.notifications.status(with_triggers=False)
    assert status.dead_letters == len(corpus) and status.last_dead_letter_reason.startswith("refused: ")
    stored = conn.execute("SELECT payload, receive_count FROM mediasync.notification_dead_letters "
                          "WHERE reason LIKE '%%traversal%%' OR reason LIKE '%%path segment%%' ORDER BY id").fetchall()
    assert bytes(stored[0]["payload"]) == corpus["traversal public_id"] and stored[0]["receive_count"] == 1


def test_a_message_failing_on_every_receipt_is_dead_lettered_after_the_limit_and_others_flow(services, conn,
                                                                                            emulator):
    services.notifications.setup("poll", CHANNEL)
    stuck = services.media.upload(tiny_png(72), "stuck.png")
    flowing = [services.media.upload(tiny_png(73 + i), f"flowing-{i}.png") for i in range(MAX_RECEIVES)]
    services.notifications.drain(CHANNEL)  # the app's own upload notifications, out of the way
    # Another team's rule refuses this one row's change: every attempt fails, for a reason that is not an outage.
    conn.execute("""CREATE FUNCTION public.refuse_stuck() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'row % is frozen by policy', OLD.id; END $$""")
    conn.execute(f"CREATE TRIGGER refuse_stuck BEFORE UPDATE ON public.media_files FOR EACH ROW "
                 f"WHEN (OLD.id = '{stuck.id}') EXECUTE FUNCTION public.refuse_stuck()")
    emulator.console("delete", public_id=stuck.public_id)
    for receipt, record in enumerate(flowing, start=1):
        emulator.console("delete", public_id=record.public_id)  # one more real notification behind it each round
        result = services.notifications.drain(CHANNEL, visibility_timeout=1)
        assert result.applied == 1, (receipt, result)  # the one behind the stuck message applied
        if receipt < MAX_RECEIVES:
            assert (result.failed, result.dead_lettered, result.acknowledged) == (1, 0, 1), (receipt, result)
            assert "frozen by policy" in (result.error or "")
        else:
            assert (result.failed, result.dead_lettered, result.acknowledged) == (0, 1, 2), (receipt, result)
        time.sleep(1.1)  # the stuck message becomes visible again
    assert services.notifications.drain(CHANNEL).received == 0
    dead = conn.execute("SELECT reason, receive_count FROM mediasync.notification_dead_letters").fetchall()
    assert len(dead) == 1 and dead[0]["receive_count"] == MAX_RECEIVES and "frozen by policy" in dead[0]["reason"]
    assert conn.execute("SELECT status FROM public.media_files WHERE id = %s", (stuck.id,)).fetchone()["status"] == (
        "active")
    assert conn.execute("SELECT count(*) AS n FROM public.media_files WHERE deleted_by = 'cloudinary'").fetchone()[
        "n"] == MAX_RECEIVES
    assert services.notifications.status(with_triggers=False).dead_letters == 1


def test_the_most_tags_cloudinary_allows_apply_in_seconds(services, conn, emulator, webhook):
    """1000 tags on each of 10 assets (the notification's limit, 10,000 changes): one statement per
    asset, not three per tag (100,000 tags took a minute inside one transaction)."""
    rows = [conn.execute(
        "INSERT INTO public.media_files (public_id, resource_type, type, format, bytes, version, folder, asset_id, "
        "asset_folder) VALUES (%s, 'image', 'upload', 'png', 68, 1, 'main-uploads', %s, 'main-uploads') RETURNING *",
        (f"main-uploads/tagged-{i}", f"asset{i}")).fetchone() for i in range(10)]
    body = cld.tags(rows[0], [f"t{i}" for i in range(1000)], [])
    body["resources"] = [{**body["resources"][0], "public_id": r["public_id"], "asset_id": r["asset_id"]} for r in rows]
    started = time.monotonic()
    applied = webhook(cld.sign(cld.encode(body), emulator.api_secret))
    assert applied.status_code == 200 and applied.json()["outcome"] == "applied", applied.text
    assert time.monotonic() - started < 10
    assert counts(conn)["tags"] == 10_000
