"""Token-bucket rate limiter. Read README.md beside this file for the rules; `kata run rate_limiter` grades you."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable


class TokenBucket:
    """Up to `capacity` tokens, refilled continuously at `refill_rate` tokens per second."""

    def __init__(
        self,
        capacity: float,
        refill_rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A full bucket: `capacity` tokens now.

        capacity: tokens (> 0, may be fractional); refill_rate: tokens per second (> 0).
        clock: returns the time in seconds (a float that never decreases); the only source of
        time, read whenever the bucket needs "now". Raises ValueError if capacity <= 0 or
        refill_rate <= 0.
        """
        raise NotImplementedError("TokenBucket: level 1")

    # ---- level 1 -------------------------------------------------------------------------------

    def try_acquire(self, cost: float = 1.0) -> bool:
        """Take `cost` tokens if the bucket holds at least `cost` now: True. Else False, taking nothing.

        Tokens at time t = min(capacity, tokens at the last update + (t - last update) * refill_rate).
        Raises ValueError if cost <= 0 or cost > capacity (such a request could never be granted).
        """
        raise NotImplementedError("TokenBucket.try_acquire: level 1")

    def available(self) -> float:
        """The tokens in the bucket now (refill included): a float in [0, capacity]. Takes nothing."""
        raise NotImplementedError("TokenBucket.available: level 1")

    # ---- level 3 -------------------------------------------------------------------------------

    def acquire(self, cost: float = 1.0, *, sleep: Callable[[float], object] = time.sleep) -> float:
        """Wait until `cost` tokens are there, take them, return the seconds waited.

        If the bucket holds `cost` tokens now: take them, return 0.0, never call sleep. Otherwise call
        sleep(wait) once, wait = (cost - available()) / refill_rate seconds, take the tokens and return
        wait. Raises ValueError (before sleeping) if cost <= 0 or cost > capacity.
        """
        raise NotImplementedError("TokenBucket.acquire: level 3")

    async def acquire_async(
        self,
        cost: float = 1.0,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> float:
        """acquire for asyncio: the same rules, but `await sleep(wait)`; never block the event loop."""
        raise NotImplementedError("TokenBucket.acquire_async: level 3")


class KeyedRateLimiter:
    """One token bucket per key (a user, an API key), all with the same capacity and refill rate."""

    def __init__(
        self,
        capacity: float,
        refill_rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """No keys held yet. The same arguments and ValueErrors as TokenBucket."""
        raise NotImplementedError("KeyedRateLimiter: level 2")

    def try_acquire(self, key: Hashable, cost: float = 1.0) -> bool:
        """TokenBucket.try_acquire on `key`'s own bucket; a key never seen (or evicted) starts full.

        Raises ValueError if cost <= 0 or cost > capacity. Amortized O(1) time, however many keys
        are held: eviction must not scan every key on every call.
        """
        raise NotImplementedError("KeyedRateLimiter.try_acquire: level 2")

    def __len__(self) -> int:
        """The number of keys held now, after evicting what can be evicted at clock().

        A key whose bucket is below capacity is always held; a key whose last try_acquire was more
        than capacity / refill_rate seconds ago never is.
        """
        raise NotImplementedError("KeyedRateLimiter.__len__: level 2")
