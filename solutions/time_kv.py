"""Time-versioned key-value store: reference solution.

Each key owns three parallel lists, its versions in time order: the timestamps (strictly
increasing, so the list is sorted and `bisect` finds the version current at any time in
O(log n)), the values (None marks a delete, a tombstone), and the times the values expire
(infinity without a TTL). Writes only ever append, since a key's timestamps must increase.

Notes
-----
- Complexity (n = versions of the key): `set` and `delete` are O(1) amortised (an append; delete
  also does one O(log n) lookup); `get` is O(log n); `history` is O(log n + k) for k versions
  returned; `compact` is O(log n) per key plus the versions it drops (a `del` of a list prefix).
  Memory is O(total versions).
- Trade-offs: parallel lists keep `bisect` on a plain list of ints (no key function, no tuple
  comparisons) and the memory small. Requiring increasing timestamps per key makes writes
  appends; accepting out-of-order writes would need `insort` (an O(n) memmove per write) or a
  balanced tree / skip list (`sortedcontainers.SortedList`), and a rule for equal timestamps.
- An expired or deleted latest version answers None: it never uncovers an older value, which is
  why `get` looks at exactly one version.
- Compaction keeps, per key, the versions after t and the one current at t if it is still a live
  value; nothing else can be seen at or after t. A key left with no version is forgotten.
- Follow-ups interviewers ask: out-of-order or duplicate timestamps (idempotent writes, last
  writer wins); a global commit timestamp and snapshot reads across keys (MVCC, as in Spanner or
  Postgres); a background compactor with a low watermark (the oldest open snapshot) instead of an
  explicit t; persistence (an append-only log per key, or an LSM tree); range scans over keys at
  a time t.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right


class _Versions:
    """One key's versions, oldest first; `values[i] is None` marks a delete."""

    __slots__ = ("expires", "times", "values")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.values: list[str | None] = []
        self.expires: list[float] = []

    def append(self, t: int, value: str | None, expires: float) -> None:
        self.times.append(t)
        self.values.append(value)
        self.expires.append(expires)

    def live_at(self, i: int, t: int) -> bool:
        """Version i is a value (not a delete) that has not expired at time t."""
        return self.values[i] is not None and t < self.expires[i]


class TimeKV:
    """A map from str keys to str values in which every write carries a timestamp."""

    def __init__(self) -> None:
        self._keys: dict[str, _Versions] = {}

    # ---- level 1 -------------------------------------------------------------------------------

    def set(self, key: str, value: str, t: int, ttl: int | None = None) -> None:
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        versions = self._check_write(key, t)
        if versions is None:
            versions = self._keys[key] = _Versions()
        versions.append(t, value, math.inf if ttl is None else t + ttl)

    def get(self, key: str, t: int) -> str | None:
        versions = self._keys.get(key)
        if versions is None:
            return None
        i = bisect_right(versions.times, t) - 1  # the latest version at or before t
        if i < 0 or not versions.live_at(i, t):
            return None
        return versions.values[i]

    def _check_write(self, key: str, t: int) -> _Versions | None:
        """The key's versions (None for a new key), after checking t is later than all of them."""
        versions = self._keys.get(key)
        if versions is not None and t <= versions.times[-1]:
            raise ValueError(f"{key!r}: timestamp {t} is not after {versions.times[-1]}")
        return versions

    # ---- level 2 -------------------------------------------------------------------------------

    def delete(self, key: str, t: int) -> bool:
        versions = self._check_write(key, t)
        if versions is None or not versions.live_at(-1, t):  # t is after every version
            return False
        versions.append(t, None, math.inf)
        return True

    # ---- level 3 -------------------------------------------------------------------------------

    def history(self, key: str, t0: int, t1: int) -> list[tuple[int, str | None]]:
        versions = self._keys.get(key)
        if versions is None or t0 > t1:
            return []
        lo = bisect_left(versions.times, t0)
        hi = bisect_right(versions.times, t1)
        return list(zip(versions.times[lo:hi], versions.values[lo:hi], strict=True))

    def compact(self, t: int) -> int:
        dropped = 0
        for key in list(self._keys):
            versions = self._keys[key]
            current = bisect_right(versions.times, t) - 1  # the version a get at t sees
            keep = current if current >= 0 and versions.live_at(current, t) else current + 1
            if keep == 0:
                continue
            dropped += keep
            del versions.times[:keep], versions.values[:keep], versions.expires[:keep]
            if not versions.times:
                del self._keys[key]
        return dropped
