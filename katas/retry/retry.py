"""Retry with exponential backoff. Read README.md beside this file for the rules; `kata run retry` grades you."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

T = TypeVar("T")
_P = ParamSpec("_P")


def retry(
    fn: Callable[[], T],
    *,
    max_attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 10.0,
    multiplier: float = 2.0,
    jitter: bool = False,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
    sleep: Callable[[float], object] = time.sleep,
    rng: Callable[[], float] = random.random,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call fn() until it returns; return its result.

    After attempt i (0-based) fails with an exception matching retry_on (as `except retry_on:`
    matches), and attempts remain: sleep(min(max_delay, base_delay * multiplier ** i)) seconds, or
    with jitter=True sleep(rng() * that), rng() in [0, 1) called once per jittered delay. No sleep
    after the final attempt: its exception is re-raised as the same object. Exceptions outside
    retry_on propagate at once.
    Raises ValueError, before fn is first called, if max_attempts < 1, base_delay < 0,
    max_delay < 0 or multiplier < 1 (level 4: or deadline < 0).

    Level 4: an exception attribute `retry_after` (seconds, not None) replaces the delay with
    min(max_delay, retry_after), unjittered. deadline (seconds from clock() read once at the start,
    None = none): re-raise instead of sleeping when clock() + delay > start + deadline.
    """
    raise NotImplementedError("retry: level 1")


def retrying(
    *,
    max_attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 10.0,
    multiplier: float = 2.0,
    jitter: bool = False,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
    sleep: Callable[[float], object] = time.sleep,
    rng: Callable[[], float] = random.random,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Callable[_P, T]], Callable[_P, T]]:
    """A decorator: each call of the decorated function retries as retry() would.

    Arguments (positional and keyword) are passed through on every attempt; __name__ and __doc__
    are kept (functools.wraps); every call starts again at attempt 0. Options are validated here,
    at decoration time (ValueError). Level 4: the deadline runs from the start of each call.
    """
    raise NotImplementedError("retrying: level 2")


async def retry_async(
    coro_fn: Callable[[], Awaitable[T]],
    *,
    max_attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 10.0,
    multiplier: float = 2.0,
    jitter: bool = False,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Await a fresh coro_fn() until it returns; the rules of retry().

    Between attempts, `await sleep(delay)`: never time.sleep, which blocks the event loop.
    clock is a plain function (called, not awaited).
    """
    raise NotImplementedError("retry_async: level 3")
