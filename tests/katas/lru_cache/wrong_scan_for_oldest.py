"""Known-wrong LRU cache: correct answers, but each entry carries a use counter and eviction scans
every entry for the smallest one (`min(...)`), so a put on a full cache is O(n)."""

from __future__ import annotations

from collections.abc import Hashable
from itertools import count
from typing import Any


class LRUCache:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.clock = count()
        self.entries: dict[Hashable, tuple[Any, int]] = {}  # key -> (value, last use)

    def _evict_oldest(self) -> None:
        oldest = min(self.entries, key=lambda k: self.entries[k][1])
        del self.entries[oldest]

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self.entries:
            return default
        value = self.entries[key][0]
        self.entries[key] = (value, next(self.clock))
        return value

    def put(self, key: Hashable, value: Any) -> None:
        if key not in self.entries and len(self.entries) >= self.capacity:
            self._evict_oldest()
        self.entries[key] = (value, next(self.clock))

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def delete(self, key: Hashable) -> bool:
        return self.entries.pop(key, None) is not None

    def resize(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        while len(self.entries) > capacity:
            self._evict_oldest()
