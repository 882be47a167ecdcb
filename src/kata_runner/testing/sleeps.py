"""Sleeping without sleeping, for suites of katas that wait (retry, rate limiters).

`no_real_sleep(impl)` replaces `time.sleep` and `asyncio.sleep`, and the attempt's own aliases of
them (`from time import sleep`), by recorders while the attempt runs: an attempt that sleeps on
its own, instead of through the sleep it was given, is reported instead of stalling the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

REAL_TIME_SLEEP = time.sleep
REAL_ASYNCIO_SLEEP = asyncio.sleep


@contextmanager
def no_real_sleep(impl: Any, show: Callable[[Any], str] = repr) -> Iterator[list[str]]:
    """Within the block, sleeping through the standard library records `time.sleep(<show(s)>)` or
    `asyncio.sleep(<show(s)>)` in the list it yields and returns at once (an `asyncio.sleep`
    still lets the other tasks run)."""
    called: list[str] = []

    def time_sleep(seconds: float) -> None:
        called.append(f"time.sleep({show(seconds)})")

    async def asyncio_sleep(delay: float, result: Any = None) -> Any:
        called.append(f"asyncio.sleep({show(delay)})")
        await REAL_ASYNCIO_SLEEP(0)
        return result

    patches: list[tuple[Any, str, Any]] = [
        (time, "sleep", time_sleep),
        (asyncio, "sleep", asyncio_sleep),
    ]
    for name, value in list(vars(impl).items()):
        if value is REAL_TIME_SLEEP:
            patches.append((impl, name, time_sleep))
        elif value is REAL_ASYNCIO_SLEEP:
            patches.append((impl, name, asyncio_sleep))
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield called
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)
