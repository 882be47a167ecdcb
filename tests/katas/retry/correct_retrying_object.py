"""Correct, in another style: a `Retrying` policy object (tenacity's shape) whose schedule is a
generator built with itertools; the three public functions are thin wrappers around it.

Differences from the reference on purpose: delays grow by repeated multiplication
(itertools.accumulate), not `multiplier ** i`; the loop catches BaseException and re-raises
what `isinstance(exc, retry_on)` rejects; the deadline compares elapsed time,
`clock() - start + delay > deadline`, instead of `clock() + delay > start + deadline`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import operator
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
_P = ParamSpec("_P")
_RetryOn = type[BaseException] | tuple[type[BaseException], ...]


class Retrying:
    """Retry options, validated once; `schedule()` and `wait_after()` decide, `run*` loop."""

    def __init__(
        self,
        *,
        max_attempts: int,
        base_delay: float,
        max_delay: float,
        multiplier: float,
        jitter: bool,
        retry_on: _RetryOn,
        rng: Callable[[], float],
        deadline: float | None,
        clock: Callable[[], float],
    ) -> None:
        problems = [
            f"{name}={value!r}"
            for name, value, bad in (
                ("max_attempts", max_attempts, max_attempts < 1),
                ("base_delay", base_delay, base_delay < 0),
                ("max_delay", max_delay, max_delay < 0),
                ("multiplier", multiplier, multiplier < 1),
                ("deadline", deadline, deadline is not None and deadline < 0),
            )
            if bad
        ]
        if problems:
            raise ValueError("invalid retry options: " + ", ".join(problems))
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.multiplier = multiplier
        self.jitter = jitter
        self.retry_on = retry_on
        self.rng = rng
        self.deadline = deadline
        self.clock = clock

    def schedule(self) -> Iterator[float]:
        """Capped, unjittered delays after attempts 0 .. max_attempts - 2."""
        growth = itertools.accumulate(
            itertools.repeat(self.multiplier, self.max_attempts - 2),
            operator.mul,
            initial=self.base_delay,
        )
        return (min(self.max_delay, d) for d in itertools.islice(growth, self.max_attempts - 1))

    def wait_after(self, exc: BaseException, planned: Iterator[float], start: float) -> float | None:
        """The delay before the next attempt, or None to give up. Consumes one planned delay."""
        if not isinstance(exc, self.retry_on):
            return None
        delay = next(planned, None)
        if delay is None:  # that was the final attempt
            return None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            delay = min(self.max_delay, hint)
        elif self.jitter:
            delay *= self.rng()
        if self.deadline is not None and self.clock() - start + delay > self.deadline:
            return None
        return delay

    def run(self, fn: Callable[[], T], sleep: Callable[[float], Any]) -> T:
        start, planned = self.clock(), self.schedule()
        while True:
            try:
                return fn()
            except BaseException as exc:
                delay = self.wait_after(exc, planned, start)
                if delay is None:
                    raise
            sleep(delay)

    async def run_async(self, coro_fn: Callable[[], Awaitable[T]], sleep: Callable[[float], Awaitable[Any]]) -> T:
        start, planned = self.clock(), self.schedule()
        while True:
            try:
                return await coro_fn()
            except BaseException as exc:
                delay = self.wait_after(exc, planned, start)
                if delay is None:
                    raise
            await sleep(delay)


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
    policy = Retrying(
        max_attempts=max_attempts, base_delay=base_delay, max_delay=max_delay, multiplier=multiplier,
        jitter=jitter, retry_on=retry_on, rng=rng, deadline=deadline, clock=clock,
    )
    return policy.run(fn, sleep)


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
    policy = Retrying(
        max_attempts=max_attempts, base_delay=base_delay, max_delay=max_delay, multiplier=multiplier,
        jitter=jitter, retry_on=retry_on, rng=rng, deadline=deadline, clock=clock,
    )

    def decorate(fn: Callable[_P, T]) -> Callable[_P, T]:
        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> T:
            return policy.run(functools.partial(fn, *args, **kwargs), sleep)

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
    policy = Retrying(
        max_attempts=max_attempts, base_delay=base_delay, max_delay=max_delay, multiplier=multiplier,
        jitter=jitter, retry_on=retry_on, rng=rng, deadline=deadline, clock=clock,
    )
    return await policy.run_async(coro_fn, sleep)
