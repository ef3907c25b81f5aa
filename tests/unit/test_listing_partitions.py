"""The pieces of a partitioned listing: ranges from a plan, and the allowance meter every cursor
takes its calls from."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from mediasync.services.reconcile.partitions import AllowanceMeter, ranges_of
from mediasync.store import ListingPage, ListingSource

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def page(remaining: int | None, reset: datetime = T0) -> ListingPage:
    return ListingPage([], "next", rate_limit_remaining=remaining, rate_limit_reset_at=reset)


def test_ranges_cover_every_upload_time_without_overlap():
    source = ListingSource("image", prefix="main-uploads/")
    bounds = [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    ranges, last = ranges_of(source, bounds)
    assert [(r.uploaded_from, r.uploaded_before) for r in ranges] == [
        (None, T0), (T0, T0 + timedelta(days=1)), (T0 + timedelta(days=1), T0 + timedelta(days=2))]
    assert last is not None and (last.uploaded_from, last.uploaded_before) == (T0 + timedelta(days=2), None)
    assert len({r.key for r in [*ranges, last]}) == 4 and all(r.whole_key == source.key for r in ranges)
    assert ranges_of(source, []) == ([source], None)


def test_the_meter_never_hands_out_calls_into_the_reserve():
    meter = AllowanceMeter(reserve=10)
    assert meter.acquire()
    meter.release(page(14))
    assert all(meter.acquire() for _ in range(4))  # 14 left: 4 may be in flight, the 5th would spend the reserve
    fifth: list[bool] = []
    thread = threading.Thread(target=lambda: fifth.append(meter.acquire()))
    thread.start()
    thread.join(0.2)
    assert fifth == []  # it waits for the calls in flight
    for _ in range(4):
        meter.release(page(10))
    thread.join(2)
    assert fifth == [False] and "reserve 10" in (meter.pause_message() or "")


def test_until_the_first_answer_one_call_at_a_time():
    meter = AllowanceMeter(reserve=5)
    assert meter.acquire()
    waited = threading.Event()

    def second() -> None:
        assert meter.acquire()
        waited.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not waited.wait(0.2)  # the allowance is unknown while the first call is in flight
    meter.release(page(100))
    thread.join(2)
    assert waited.is_set()


def test_answers_in_any_order_keep_the_fewest_calls_left_until_the_window_resets():
    meter = AllowanceMeter(reserve=0)
    meter.note(page(40))
    meter.note(page(45))
    assert meter.remaining == 40
    meter.note(page(499, T0 + timedelta(hours=1)))
    assert (meter.remaining, meter.reset_at) == (499, T0 + timedelta(hours=1))
