"""Token-bucket rate limiting: reference solution.

A bucket holds up to `capacity` tokens and gains `refill_rate` tokens per second, continuously; a
request of `cost` tokens is granted when the bucket holds at least `cost`. Nothing runs in the
background: the bucket stores (tokens, time of that reading) and brings the count up to date from
the injected clock whenever it is asked, `min(capacity, tokens + elapsed * refill_rate)`. Because
that update composes (refilling to t1 and then to t2 is refilling to t2), it can happen as often or
as rarely as convenient without changing any answer. This is the lazy refill of Guava's
`SmoothRateLimiter` and of most API gateways.

Notes
-----
- Complexity: every call is O(1) time and the bucket O(1) memory. The keyed limiter keeps its keys
  in an OrderedDict, least recently called first, so eviction pops from the front: amortized O(1)
  per call, memory O(keys called in the last capacity / refill_rate seconds).
- Why eviction is safe: a key's bucket is full again at most capacity / refill_rate seconds after
  its last call, and a full bucket is exactly what a forgotten key starts with. Evicting by a
  shorter TTL would hand a busy client a fresh burst.
- acquire reserves: it takes the tokens at once, letting the count go negative, and sleeps off the
  debt outside the lock. Waiters are served in call order and the lock is never held while
  sleeping, so try_acquire never blocks. The alternative (sleep, then retry try_acquire in a loop)
  lets late callers barge in and can starve a large request.
- Trade-offs: floats are fine for rates and times (a boundary off by one ulp costs one request
  nothing). One lock per bucket serializes its callers; at very high rates use a lock-free
  compare-and-swap on a single "theoretical arrival time" (GCRA), which stores one number instead
  of two.
- Follow-ups interviewers ask: a rate limit shared by many servers (a Redis Lua script doing the
  same refill atomically, or GCRA with `SET` on one key); sliding-window log or counter instead of a
  bucket (and what each allows at a window edge); the leaky bucket as a queue; headers to send back
  (429 with Retry-After = the wait acquire computes); tokens for an LLM API, where the cost
  (prompt + completion tokens) is known only after the call: reserve an estimate, settle later.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable


def _check_limits(capacity: float, refill_rate: float) -> None:
    if capacity <= 0 or refill_rate <= 0:
        raise ValueError(f"capacity and refill_rate must be > 0, got {capacity} and {refill_rate}")


def _check_cost(cost: float, capacity: float) -> None:
    if not 0 < cost <= capacity:
        raise ValueError(f"cost must be in (0, capacity={capacity}], got {cost}")


def _refilled(tokens: float, since: float, now: float, capacity: float, rate: float) -> float:
    """The tokens at `now` of a bucket that held `tokens` at `since`: continuous refill, capped."""
    return min(capacity, tokens + (now - since) * rate)


class TokenBucket:
    """Up to `capacity` tokens, refilled continuously at `refill_rate` tokens per second."""

    def __init__(
        self,
        capacity: float,
        refill_rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_limits(capacity, refill_rate)
        self.capacity = capacity
        self.refill_rate = refill_rate
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(capacity)  # starts full; negative while acquire sleeps off a debt
        self._since = clock()  # the clock reading _tokens is valid at

    def _refill(self) -> None:
        """Bring _tokens up to date with the clock. The caller holds the lock."""
        now = self._clock()
        self._tokens = _refilled(self._tokens, self._since, now, self.capacity, self.refill_rate)
        self._since = now

    def try_acquire(self, cost: float = 1.0) -> bool:
        """Take `cost` tokens if the bucket holds them now; a refused request takes nothing."""
        _check_cost(cost, self.capacity)
        with self._lock:
            self._refill()
            if self._tokens < cost:
                return False
            self._tokens -= cost
            return True

    def available(self) -> float:
        """The tokens in the bucket now, in [0, capacity]."""
        with self._lock:
            self._refill()
            return max(0.0, self._tokens)

    def _reserve(self, cost: float) -> float:
        """Take `cost` tokens now, going into debt if needed; the seconds until the debt is paid."""
        _check_cost(cost, self.capacity)
        with self._lock:
            self._refill()
            wait = max(0.0, (cost - self._tokens) / self.refill_rate)
            self._tokens -= cost
            return wait

    def acquire(self, cost: float = 1.0, *, sleep: Callable[[float], object] = time.sleep) -> float:
        """Wait until `cost` tokens are there, take them; the seconds waited (0.0: no sleep)."""
        wait = self._reserve(cost)
        if wait > 0:
            sleep(wait)  # outside the lock: other callers are never blocked by a sleeper
        return wait

    async def acquire_async(
        self,
        cost: float = 1.0,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> float:
        """acquire for asyncio: awaits sleep(wait) instead of blocking the event loop."""
        wait = self._reserve(cost)
        if wait > 0:
            await sleep(wait)
        return wait


class KeyedRateLimiter:
    """One token bucket per key; keys whose bucket must be full again are forgotten."""

    def __init__(
        self,
        capacity: float,
        refill_rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_limits(capacity, refill_rate)
        self.capacity = capacity
        self.refill_rate = refill_rate
        self._clock = clock
        self._lock = threading.Lock()
        self._idle_after = capacity / refill_rate  # a bucket is full this long after a call
        # key -> (tokens, time of the key's last call), least recently called first
        self._held: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def _evict(self, now: float) -> None:
        """Forget the keys called at least capacity / refill_rate ago: their buckets are full."""
        while self._held:
            key, (_, since) = next(iter(self._held.items()))
            if now - since < self._idle_after:
                return
            del self._held[key]

    def try_acquire(self, key: Hashable, cost: float = 1.0) -> bool:
        """Take `cost` tokens from `key`'s bucket if it holds them now; a new key starts full."""
        _check_cost(cost, self.capacity)
        with self._lock:
            now = self._clock()
            self._evict(now)
            tokens, since = self._held.pop(key, (self.capacity, now))
            tokens = _refilled(tokens, since, now, self.capacity, self.refill_rate)
            granted = tokens >= cost
            if granted:
                tokens -= cost
            self._held[key] = (tokens, now)  # re-inserted last: the most recently called
            return granted

    def __len__(self) -> int:
        """The number of keys held now (after evicting what can be evicted)."""
        with self._lock:
            self._evict(self._clock())
            return len(self._held)
