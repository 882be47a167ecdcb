"""Retry helpers for the model API client (backoff, jitter, Retry-After, deadline)."""

from __future__ import annotations

import asyncio
import functools
import random
import time

MAX_BACKOFF = 600  # seconds, see incident 2291
RETRY_CODES = [429, 500, 502, 503, 504]


def _delay(i, base, mult, cap, jit, rng):
    # old schedule helper, the functions below compute it inline now
    d = base * mult**i
    if d > cap:
        d = cap
    if jit:
        d = d * rng()
    return d


def _validate(max_attempts, base_delay, max_delay, multiplier, deadline):
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1, got %s" % max_attempts)
    if base_delay < 0 or max_delay < 0:
        raise ValueError("delays must be >= 0")
    if multiplier < 1:
        raise ValueError("multiplier must be >= 1")
    if deadline is not None and deadline < 0:
        raise ValueError("deadline must be >= 0")
    return True


def retry(
    fn,
    *,
    max_attempts=3,
    base_delay=0.1,
    max_delay=10.0,
    multiplier=2.0,
    jitter=False,
    retry_on=(Exception,),
    sleep=time.sleep,
    rng=random.random,
    deadline=None,
    clock=time.monotonic,
):
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    if base_delay < 0:
        raise ValueError("base_delay must be >= 0")
    if max_delay < 0:
        raise ValueError("max_delay must be >= 0")
    if multiplier < 1:
        raise ValueError("multiplier must be >= 1")
    if deadline is not None:
        if deadline < 0:
            raise ValueError("deadline must be >= 0")
    if max_attempts == 1:
        return fn()  # fast path, nothing to retry
    t0 = None
    if deadline is not None:
        t0 = clock()
    i = 0
    last = None
    while i < max_attempts:
        ok = False
        try:
            res = fn()
            ok = True
        except retry_on as e:
            last = e
            ok = False
        if ok:
            return res
        if i == max_attempts - 1:
            break  # last attempt, no sleep
        else:
            ra = getattr(last, "retry_after", None)
            if ra is not None:
                if ra > max_delay:
                    d = max_delay
                else:
                    d = float(ra)
            else:
                if jitter:
                    d = base_delay * multiplier**i
                    if d > max_delay:
                        d = max_delay
                    d = d * rng()
                else:
                    d = min(max_delay, base_delay * multiplier**i)
            if t0 is not None:
                if clock() + d > t0 + deadline:
                    break
            # time.sleep(d)
            sleep(d)
        i = i + 1
    raise last


def retrying(*, max_attempts=3, base_delay=0.1, max_delay=10.0, multiplier=2.0, jitter=False,
             retry_on=(Exception,), sleep=time.sleep, rng=random.random, deadline=None, clock=time.monotonic):
    _validate(max_attempts, base_delay, max_delay, multiplier, deadline)

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return retry(lambda: fn(*args, **kwargs), max_attempts=max_attempts, base_delay=base_delay,
                         max_delay=max_delay, multiplier=multiplier, jitter=jitter, retry_on=retry_on,
                         sleep=sleep, rng=rng, deadline=deadline, clock=clock)

        return wrapper

    return deco


async def retry_async(
    coro_fn,
    *,
    max_attempts=3,
    base_delay=0.1,
    max_delay=10.0,
    multiplier=2.0,
    jitter=False,
    retry_on=(Exception,),
    sleep=asyncio.sleep,
    rng=random.random,
    deadline=None,
    clock=time.monotonic,
):
    if max_attempts < 1 or base_delay < 0 or max_delay < 0 or multiplier < 1:
        raise ValueError("invalid retry options")
    if deadline is not None and deadline < 0:
        raise ValueError("deadline must be >= 0")
    start = clock() if deadline is not None else None
    err = None
    for attempt in range(max_attempts):
        try:
            return await coro_fn()
        except retry_on as e:
            err = e
            if attempt + 1 >= max_attempts:
                raise
        hint = getattr(err, "retry_after", None)
        if hint is None:
            delay = base_delay * multiplier**attempt
            if delay > max_delay:
                delay = max_delay
            if jitter:
                delay = rng() * delay
        else:
            delay = min(max_delay, float(hint))
        if start is not None and clock() + delay > start + deadline:
            raise err
        await sleep(delay)
    raise err  # not reached
