"""Wait for a condition, never for a fixed time: a test that sleeps "long enough" is slow when the
machine is idle and flaky when it is loaded. Poll the condition until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class ConditionTimeout(AssertionError):
    """The condition did not hold before the deadline."""


def wait_until(condition: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.05,
               message: str = "the condition never held") -> T:
    """The condition's first truthy value; `ConditionTimeout` naming `message` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise ConditionTimeout(f"{message} (waited {timeout} s)")
        time.sleep(interval)


async def async_wait_until(condition: Callable[[], T | Awaitable[T]], *, timeout: float = 30.0,
                           interval: float = 0.05, message: str = "the condition never held") -> T:
    """`wait_until` for a coroutine: the event loop keeps running while it waits."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise ConditionTimeout(f"{message} (waited {timeout} s)")
        await asyncio.sleep(interval)
