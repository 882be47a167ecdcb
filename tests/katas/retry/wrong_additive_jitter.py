"""Known wrong: adds the jitter (delay + rng()) instead of scaling by it."""

import asyncio
import functools
import random
import time


def _check(max_attempts, base_delay, max_delay, multiplier, deadline):
    if max_attempts < 1 or base_delay < 0 or max_delay < 0 or multiplier < 1:
        raise ValueError("invalid retry options")
    if deadline is not None and deadline < 0:
        raise ValueError("deadline must be >= 0")


def _delay(attempt, exc, base_delay, max_delay, multiplier, jitter, rng):
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        return min(max_delay, retry_after)
    delay = min(max_delay, base_delay * multiplier ** attempt)
    if jitter:
        delay = delay + rng()
    return delay


def retry(fn, *, max_attempts=3, base_delay=0.1, max_delay=10.0, multiplier=2.0, jitter=False,
          retry_on=(Exception,), sleep=time.sleep, rng=random.random, deadline=None, clock=time.monotonic):
    _check(max_attempts, base_delay, max_delay, multiplier, deadline)
    start = clock()
    for attempt in range(max_attempts):
        try:
            return fn()
        except retry_on as exc:
            if attempt == max_attempts - 1:
                raise
            delay = _delay(attempt, exc, base_delay, max_delay, multiplier, jitter, rng)
            if deadline is not None and clock() + delay > start + deadline:
                raise
        sleep(delay)


def retrying(*, max_attempts=3, base_delay=0.1, max_delay=10.0, multiplier=2.0, jitter=False,
             retry_on=(Exception,), sleep=time.sleep, rng=random.random, deadline=None, clock=time.monotonic):
    _check(max_attempts, base_delay, max_delay, multiplier, deadline)

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return retry(lambda: fn(*args, **kwargs), max_attempts=max_attempts, base_delay=base_delay,
                         max_delay=max_delay, multiplier=multiplier, jitter=jitter, retry_on=retry_on,
                         sleep=sleep, rng=rng, deadline=deadline, clock=clock)

        return wrapper

    return decorator


async def retry_async(coro_fn, *, max_attempts=3, base_delay=0.1, max_delay=10.0, multiplier=2.0, jitter=False,
                      retry_on=(Exception,), sleep=asyncio.sleep, rng=random.random, deadline=None,
                      clock=time.monotonic):
    _check(max_attempts, base_delay, max_delay, multiplier, deadline)
    start = clock()
    for attempt in range(max_attempts):
        try:
            return await coro_fn()
        except retry_on as exc:
            if attempt == max_attempts - 1:
                raise
            delay = _delay(attempt, exc, base_delay, max_delay, multiplier, jitter, rng)
            if deadline is not None and clock() + delay > start + deadline:
                raise
        await sleep(delay)
