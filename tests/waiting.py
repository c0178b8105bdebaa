"""Waiting for a condition instead of for a while.

    value = wait_until(lambda: read_something(), "the row to appear", within=10)
    await eventually(lambda: task_is_idle(), "the task to be idle")

Both check at once and then every `interval` seconds, return the first truthy
answer as soon as there is one, and fail the test naming what did not happen
when `within` seconds have passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

WITHIN = 10.0
INTERVAL = 0.01


def wait_until(
    check: Callable[[], T], what: str, *, within: float = WITHIN, interval: float = INTERVAL
) -> T:
    deadline = time.monotonic() + within
    while not (answer := check()):
        assert time.monotonic() < deadline, f"waited {within}s for {what}"
        time.sleep(interval)
    return answer


async def eventually(
    check: Callable[[], T], what: str, *, within: float = WITHIN, interval: float = INTERVAL
) -> T:
    """wait_until, for a test running in an event loop: the loop goes on meanwhile."""
    deadline = time.monotonic() + within
    while not (answer := check()):
        assert time.monotonic() < deadline, f"waited {within}s for {what}"
        await asyncio.sleep(interval)
    return answer
