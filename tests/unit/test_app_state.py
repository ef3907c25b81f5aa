"""The plugin builds its services — and so its pool of connections — and its LISTEN broadcaster
once per process, however many threads ask at once (pure: a counting factory, no database)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from mediasync.api.deps import AppState


def test_forty_threads_asking_at_once_build_one_set_of_services_and_one_broadcaster():
    built = []

    def slow_factory():
        built.append(threading.get_ident())
        time.sleep(0.05)  # reading the Airflow connections takes a while: the window the race needs
        return SimpleNamespace(db=object())

    state = AppState(slow_factory)
    start = threading.Barrier(40)

    def ask(_: int):
        start.wait()
        return state.services(), state.live()

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(ask, range(40)))
    assert len(built) == 1
    assert len({id(services) for services, _ in answers}) == 1 and len({id(live) for _, live in answers}) == 1
