"""Partitioned full listings: each listing split into upload-time ranges, listed side by side.

A cursor is sequential by nature: one listing of a million assets is 2,000 round trips one after
the other, whatever the machine. The Search API lists any upload-time range on its own
(`uploaded_at>="a" AND uploaded_at<"b"`), so a listing split into ranges runs as many cursors at
once. The ranges come from what the last complete listing saw (`listing_plans`, written when a
full listing completes): equal shares of its assets, then one last range from the second after
its newest asset — what was uploaded (or re-uploaded) since, listed after every other range so it
also holds whatever moved into it while they were listed.

Every range spends the one Admin API allowance: `AllowanceMeter` hands out calls, so the ranges
together never spend past the reserve kept for the cleanup queue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from mediasync.store import ListingPage, ListingSource

WAIT_SECONDS = 0.05  # how often a call waiting for the allowance's first answer looks again


def ranges_of(source: ListingSource, bounds: list[datetime]) -> tuple[list[ListingSource], ListingSource | None]:
    """(the ranges listed side by side, the last range listed after them) of a planned listing;
    ([source], None) without a plan."""
    if not bounds:
        return [source], None
    edges: list[datetime | None] = [None, *bounds]
    ranges = [replace(source, uploaded_from=low, uploaded_before=high)
              for low, high in zip(edges, bounds, strict=False)]
    return ranges, replace(source, uploaded_from=bounds[-1])


def parts_of(ranges: list[ListingSource], last: ListingSource | None) -> list[ListingSource]:
    """Every listing `ranges_of` made of a source: what this run stores that source's assets under."""
    return [*ranges, *([last] if last else [])]


@dataclass
class AllowanceMeter:
    """Cloudinary's Admin API allowance, shared by every cursor of a listing. A call is handed out
    only while the calls left (as the answers report them), less the calls in flight, stay above
    `reserve` — so all cursors together never spend into it; until the first answer tells the
    allowance, one call at a time. With no reserve, nothing is held back."""

    reserve: int
    remaining: int | None = None
    reset_at: datetime | None = None
    in_flight: int = 0
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def acquire(self) -> bool:
        """Take one call; False once the calls left are down to the reserve: list no further. A
        call that could, with those in flight, spend into the reserve waits for them first."""
        with self._lock:
            while self.reserve > 0:
                if self.remaining is not None and self.remaining <= self.reserve:
                    return False
                if self.in_flight == 0 or (self.remaining is not None
                                           and self.remaining - self.in_flight > self.reserve):
                    break
                self._lock.wait(WAIT_SECONDS)
            self.in_flight += 1
            return True

    def release(self, page: ListingPage | None) -> None:
        """The call is answered (`page`, or None when it failed or found no page)."""
        with self._lock:
            self.in_flight -= 1
            if page is not None:
                self.note(page)
            self._lock.notify_all()

    def note(self, page: ListingPage) -> None:
        """What an answer reported. Answers of concurrent calls arrive in any order: within one
        window the fewest calls left is the truth; a later reset is a new window."""
        with self._lock:
            if page.rate_limit_remaining is None:
                return
            new_window = (self.reset_at is not None and page.rate_limit_reset_at is not None
                          and page.rate_limit_reset_at > self.reset_at)
            if self.remaining is None or new_window or page.rate_limit_remaining < self.remaining:
                self.remaining = page.rate_limit_remaining
            if self.reset_at is None or new_window:
                self.reset_at = page.rate_limit_reset_at

    def pause_message(self) -> str | None:
        """Why listing stops here, when the calls left are down to the reserve."""
        with self._lock:
            if self.reserve <= 0 or self.remaining is None or self.remaining > self.reserve:
                return None
            remaining, when = self.remaining, self.reset_at.isoformat() if self.reset_at else "within the hour"
        return (f"listing paused with {remaining} Admin API calls left this hour, kept for the cleanup queue "
                f"(reserve {self.reserve}); no action taken; the next run resumes from the checkpoint "
                f"(allowance resets {when})")


class Metered:
    """The pages of one cursor, each fetched only with a call the meter hands out: iteration ends
    early (`refused`) once the allowance is down to the reserve."""

    def __init__(self, pages: Iterator[ListingPage], meter: AllowanceMeter) -> None:
        self.pages, self.meter, self.refused = pages, meter, False

    def __iter__(self) -> Iterator[ListingPage]:
        return self

    def __next__(self) -> ListingPage:
        if not self.meter.acquire():
            self.refused = True
            raise StopIteration
        page = None
        try:
            page = next(self.pages)
        finally:
            self.meter.release(page)
        return page
