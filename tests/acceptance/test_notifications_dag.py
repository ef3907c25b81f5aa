"""The poll transport in Airflow: the trigger wakes on a message, and `dag.test()` of
mediasync_cloudinary_notifications drains the channel through the Airflow connections."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from fixtures.media import tiny_png

DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_trigger_fires_when_the_channel_has_messages_and_acks_nothing(airflow_connections, services, emulator):
    from mediasync.triggers.notifications import PEEK_VISIBILITY_SECONDS, CloudinaryNotificationTrigger

    services.notifications.setup("poll", "wake")
    trigger = CloudinaryNotificationTrigger(channel="wake", wait_seconds=1)
    classpath, kwargs = trigger.serialize()
    assert classpath == "mediasync.triggers.notifications.CloudinaryNotificationTrigger"
    assert kwargs == {"channel": "wake", "wait_seconds": 1, "cloudinary_conn_id": "cloudinary_default"}

    async def first_event():
        return await asyncio.wait_for(trigger.run().__anext__(), timeout=15)

    emulator.console("upload", folder="main-uploads", public_id="wakes", filename="w.png")
    event = asyncio.run(first_event())
    assert event.payload == {"channel": "wake"}
    time.sleep(PEEK_VISIBILITY_SECONDS + 0.2)  # the peek hides it that long, no more
    assert services.notifications.drain("wake", visibility_timeout=5).received == 1  # still there: not acked


def test_dag_applies_the_channel(dagbag_with_notifications, airflow_metadata, airflow_connections, services, conn,
                                 emulator):
    from airflow.utils.state import DagRunState

    services.notifications.setup("poll", "mediasync")
    record = services.media.upload(tiny_png(1), "dag.png")
    emulator.console("delete", public_id=record.public_id)
    run = dagbag_with_notifications.get_dag("mediasync_cloudinary_notifications").test()
    assert run.state == DagRunState.SUCCESS
    assert conn.execute("SELECT status, deleted_by FROM public.media_files WHERE id = %s",
                        (record.id,)).fetchone() == {"status": "deleted", "deleted_by": "cloudinary"}
    assert services.notifications.drain("mediasync").received == 0  # acknowledged after commit


@pytest.fixture(scope="module")
def dagbag_with_notifications(airflow_metadata):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS / "mediasync_cloudinary_notifications.py"))
