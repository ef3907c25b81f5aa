"""The test suite's waiting helper: returns as soon as the condition holds, fails loudly when it never does."""

from __future__ import annotations

import asyncio
import time

import pytest

from support.waiting import ConditionTimeout, async_wait_until, wait_until


def test_wait_until_returns_the_first_truthy_value_as_soon_as_it_holds():
    started = time.monotonic()
    answers = iter([0, None, "", 7])
    assert wait_until(lambda: next(answers), interval=0.01) == 7
    assert time.monotonic() - started < 1


def test_wait_until_names_what_never_happened():
    with pytest.raises(ConditionTimeout, match="the row never appeared"):
        wait_until(lambda: False, timeout=0.1, interval=0.01, message="the row never appeared")


def test_async_wait_until_awaits_coroutine_conditions_and_keeps_the_loop_running():
    async def scenario() -> int:
        flag: list[int] = []
        asyncio.get_running_loop().call_later(0.05, flag.append, 3)

        async def ready() -> int:
            return flag[0] if flag else 0

        return await async_wait_until(ready, timeout=5, interval=0.01)

    assert asyncio.run(scenario()) == 3
