"""Read-ahead for the listing: the next Cloudinary page is fetched while the current one is stored.

A listing page costs a round trip to Cloudinary and then a write to PostgreSQL; one after the
other, each side idles while the other works. The cursor of page N+1 comes with page N, so only
the fetching can run ahead: one thread walks the store's page iterator, at most `depth` pages
ahead of the consumer (bounded memory), and hands over pages, the end, or the error that stopped
it — in order, so the consumer stores every page fetched before a failure and then sees the
failure where the sequential listing would have. `last(page)` stops the fetching after a page the
consumer will stop at (the Admin API allowance pause): read-ahead never spends a call the
sequential listing would not have.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = "item", "end", "error"
PUT_POLL_SECONDS = 0.1  # how often a producer blocked on a full queue checks it was told to stop
JOIN_SECONDS = 5.0  # how long closing waits for a fetch in flight (it is not interrupted)


class ReadAhead(Generic[T]):
    """`with ReadAhead(pages, depth=4, last=...) as ahead: for page in ahead: ...`"""

    def __init__(self, items: Iterator[T], depth: int, last: Callable[[T], bool] = lambda _: False) -> None:
        self._items = items
        self._last = last
        self._queue: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._produce, name="listing-read-ahead", daemon=True)

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == _ITEM:
            return value  # type: ignore[return-value]
        self._done = True
        if kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop fetching (a fetch in flight finishes; its page is dropped) and release the thread."""
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread.is_alive():
            self._thread.join(timeout=JOIN_SECONDS)

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(_ITEM, item) or self._last(item):
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(_ERROR, exc)
            return
        self._put(_END, None)

    def _put(self, kind: str, value: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False
