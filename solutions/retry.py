"""Retry with capped exponential backoff and full jitter: reference solution.

The schedule is the one in Marc Brooker's "Exponential Backoff and Jitter" (AWS Architecture Blog,
2015): after attempt i fails, wait min(cap, base · multiplier^i), or with full jitter a uniform
fraction of that. As in urllib3's `Retry.get_backoff_time`, deciding how long to wait is pure
(`_Policy.delay_after`); sleeping, randomness and time are injected, so the three forms below share
the decision and differ only in how they call `fn` and how they sleep.

Notes
-----
- Complexity: at most `max_attempts` calls of fn and `max_attempts - 1` sleeps; O(1) memory. The
  overhead per attempt is one try/except and a few float operations.
- Design: `_Policy` validates the options once (for `retrying`, at decoration time) and answers one
  question after each failure: how long to sleep, or None to give up. The sleep happens *outside* the
  `except` block, so an interrupted sleep does not chain the stale failure as its `__context__`, and
  a bare `raise` re-raises the very object fn raised, traceback and `__cause__` intact.
- Trade-offs: full jitter spreads a crowd of clients evenly over [0, cap] and, in Brooker's
  simulation, does the least total work; "equal jitter" (cap/2 + uniform(0, cap/2)) keeps a minimum
  wait; "decorrelated jitter" min(cap, uniform(base, 3 · previous)) needs state between attempts.
  `max_attempts` bounds the load a failure adds, `deadline` the latency; production code wants both.
- Retry-After wins over the schedule because the server knows its own load, but it is still capped,
  so a buggy or hostile header cannot park a worker for an hour (some clients give up instead).
- Follow-ups interviewers ask: which errors to retry (429, 408, 5xx and connection resets; never 400,
  401, 403 or 422); idempotency (a retried POST can charge twice: idempotency keys); retry budgets so
  retries cannot amplify an outage; a circuit breaker; retrying at every layer multiplies attempts
  (3 layers × 3 attempts = 27 calls); `multiplier ** i` raises OverflowError near i = 1000 (cap the
  exponent or multiply incrementally); tenacity's `stop_after_attempt | stop_after_delay` and
  `wait_exponential_jitter`.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

T = TypeVar("T")
_P = ParamSpec("_P")
_RetryOn = type[BaseException] | tuple[type[BaseException], ...]


@dataclass(frozen=True)
class _Policy:
    """Validated options of one retry loop; decides how long to wait after each failure."""

    max_attempts: int
    base_delay: float
    max_delay: float
    multiplier: float
    jitter: bool
    retry_on: _RetryOn
    rng: Callable[[], float]
    deadline: float | None
    clock: Callable[[], float]

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(
                f"delays must be >= 0, got base_delay={self.base_delay}, max_delay={self.max_delay}"
            )
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")
        if self.deadline is not None and self.deadline < 0:
            raise ValueError(f"deadline must be >= 0 seconds or None, got {self.deadline}")

    def start(self) -> float:
        """The clock reading the deadline is measured from (read once, before the first attempt)."""
        return self.clock() if self.deadline is not None else 0.0

    def delay_after(self, attempt: int, exc: BaseException, start: float) -> float | None:
        """Seconds to sleep after `attempt` (0-based) failed with `exc`, or None to give up."""
        if attempt + 1 >= self.max_attempts:
            return None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            delay = min(self.max_delay, float(hint))  # the server's word: capped, never jittered
        else:
            delay = min(self.max_delay, self.base_delay * self.multiplier**attempt)
            if self.jitter:
                delay = self.rng() * delay  # full jitter: uniform over [0, delay)
        if self.deadline is not None and self.clock() + delay > start + self.deadline:
            return None
        return delay


def _run(fn: Callable[[], T], policy: _Policy, sleep: Callable[[float], object]) -> T:
    start = policy.start()
    attempt = 0
    while True:
        try:
            return fn()
        except policy.retry_on as exc:
            delay = policy.delay_after(attempt, exc, start)
            if delay is None:
                raise
        sleep(delay)
        attempt += 1


def retry(
    fn: Callable[[], T],
    *,
    max_attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 10.0,
    multiplier: float = 2.0,
    jitter: bool = False,
    retry_on: _RetryOn = (Exception,),
    sleep: Callable[[float], object] = time.sleep,
    rng: Callable[[], float] = random.random,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call fn() until it returns, sleeping min(max_delay, base_delay * multiplier ** i) after
    failed attempt i (× rng() with jitter; an exception's retry_after wins); re-raise the last error.
    """
    policy = _Policy(
        max_attempts, base_delay, max_delay, multiplier, jitter, retry_on, rng, deadline, clock
    )
    return _run(fn, policy, sleep)


def retrying(
    *,
    max_attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 10.0,
    multiplier: float = 2.0,
    jitter: bool = False,
    retry_on: _RetryOn = (Exception,),
    sleep: Callable[[float], object] = time.sleep,
    rng: Callable[[], float] = random.random,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Callable[_P, T]], Callable[_P, T]]:
    """A decorator retrying each call as retry() would; options are validated here, once."""
    policy = _Policy(
        max_attempts, base_delay, max_delay, multiplier, jitter, retry_on, rng, deadline, clock
    )

    def decorate(fn: Callable[_P, T]) -> Callable[_P, T]:
        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> T:
            return _run(lambda: fn(*args, **kwargs), policy, sleep)  # a fresh loop per call

        return wrapper

    return decorate


async def retry_async(
    coro_fn: Callable[[], Awaitable[T]],
    *,
    max_attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 10.0,
    multiplier: float = 2.0,
    jitter: bool = False,
    retry_on: _RetryOn = (Exception,),
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Await a fresh coro_fn() until it returns; the rules of retry(), sleeping with `await sleep`."""
    policy = _Policy(
        max_attempts, base_delay, max_delay, multiplier, jitter, retry_on, rng, deadline, clock
    )
    start = policy.start()
    attempt = 0
    while True:
        try:
            return await coro_fn()
        except policy.retry_on as exc:
            delay = policy.delay_after(attempt, exc, start)
            if delay is None:
                raise
        await sleep(delay)
        attempt += 1
