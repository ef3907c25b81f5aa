"""Concurrent Cloudinary calls keep their connections: against Cloudinary each new one is a TCP and
TLS handshake, so calls from the drain's threads must not open and throw away a connection each."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import cloudinary.api_client.call_api
import cloudinary.uploader

from mediasync.clients.cloudinary_http import KEPT_CONNECTIONS


def test_the_sdk_pools_keep_a_connection_for_every_concurrent_call(cloudinary_store):
    for module in (cloudinary.api_client.call_api, cloudinary.uploader):
        assert module._http.connection_pool_kw["maxsize"] == KEPT_CONNECTIONS


def test_eight_threads_of_admin_deletes_discard_no_connection(cloudinary_store, emulator, caplog):
    ids = [f"main-uploads/kept-{i:07d}" for i in range(800)]
    emulator.seed(800, prefix="main-uploads/kept-")
    emulator.control(latency_ms=20)  # calls overlap, as at Cloudinary
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda chunk: cloudinary_store.delete_many(chunk, "image", "upload"),
                                [ids[i:i + 100] for i in range(0, 800, 100)] * 2))
    assert all(len(answer) == 100 for answer in answers)  # every call answered for each of its ids
    messages = [r.getMessage() for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert not [m for m in messages if "pool is full" in m], messages
    assert sum("Starting new HTTP" in m for m in messages) <= 8  # one per thread at most, then reused
