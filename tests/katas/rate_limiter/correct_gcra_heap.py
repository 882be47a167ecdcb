"""A correct rate limiter in another style: GCRA (one "theoretical arrival time" per bucket instead
of a token count), acquire as sleep-then-retry instead of reserving, a heap of full-again times for
eviction instead of an OrderedDict, and re-entrant locks."""

import asyncio
import heapq
import threading
import time


def _validate(capacity, refill_rate):
    if not (capacity > 0 and refill_rate > 0):
        raise ValueError("capacity and refill_rate must be positive")


class TokenBucket:
    def __init__(self, capacity, refill_rate, *, clock=time.monotonic):
        _validate(capacity, refill_rate)
        self.capacity = capacity
        self.rate = refill_rate
        self.clock = clock
        self.full_at = clock()  # the time at which the bucket is (or was) full
        self.lock = threading.RLock()

    def _tokens(self, now):
        return self.capacity - max(0.0, self.full_at - now) * self.rate

    def _check(self, cost):
        if cost <= 0 or cost > self.capacity:
            raise ValueError(f"bad cost {cost}")

    def try_acquire(self, cost=1.0):
        self._check(cost)
        with self.lock:
            now = self.clock()
            if self._tokens(now) < cost:
                return False
            self.full_at = max(self.full_at, now) + cost / self.rate
            return True

    def available(self):
        with self.lock:
            return self._tokens(self.clock())

    def _try_or_wait(self, cost):
        """None if taken, else how long to wait before trying again."""
        with self.lock:
            now = self.clock()
            have = self._tokens(now)
            if have >= cost:
                self.full_at = max(self.full_at, now) + cost / self.rate
                return None
            return (cost - have) / self.rate

    def acquire(self, cost=1.0, *, sleep=time.sleep):
        self._check(cost)
        waited = 0.0
        while True:
            need = self._try_or_wait(cost)
            if need is None:
                return waited
            sleep(need)
            waited += need

    async def acquire_async(self, cost=1.0, *, sleep=asyncio.sleep):
        self._check(cost)
        waited = 0.0
        while True:
            need = self._try_or_wait(cost)
            if need is None:
                return waited
            await sleep(need)
            waited += need


class KeyedRateLimiter:
    def __init__(self, capacity, refill_rate, *, clock=time.monotonic):
        _validate(capacity, refill_rate)
        self.capacity = capacity
        self.rate = refill_rate
        self.clock = clock
        self.full_at = {}  # key -> time its bucket is full again
        self.heap = []  # (full_at, key) pushed at every change; stale entries skipped
        self.lock = threading.RLock()

    def _evict(self, now):
        while self.heap and self.heap[0][0] <= now:
            when, key = heapq.heappop(self.heap)
            if self.full_at.get(key) == when:
                del self.full_at[key]

    def try_acquire(self, key, cost=1.0):
        if cost <= 0 or cost > self.capacity:
            raise ValueError(f"bad cost {cost}")
        with self.lock:
            now = self.clock()
            self._evict(now)
            full_at = self.full_at.get(key, now)
            have = self.capacity - max(0.0, full_at - now) * self.rate
            if have < cost:
                return False
            new = max(full_at, now) + cost / self.rate
            self.full_at[key] = new
            heapq.heappush(self.heap, (new, key))
            return True

    def __len__(self):
        with self.lock:
            self._evict(self.clock())
            return len(self.full_at)
