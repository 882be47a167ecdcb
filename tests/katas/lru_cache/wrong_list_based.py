"""Known-wrong LRU cache: correct answers, but the recency order is a Python list, so every hit,
update and eviction is O(n) (`list.remove`, `list.pop(0)`)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any


class LRUCache:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.values: dict[Hashable, Any] = {}
        self.order: list[Hashable] = []  # least recent first

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self.values:
            return default
        self.order.remove(key)
        self.order.append(key)
        return self.values[key]

    def put(self, key: Hashable, value: Any) -> None:
        if key in self.values:
            self.order.remove(key)
        elif len(self.values) >= self.capacity:
            oldest = self.order.pop(0)
            del self.values[oldest]
        self.values[key] = value
        self.order.append(key)

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def delete(self, key: Hashable) -> bool:
        if key not in self.values:
            return False
        del self.values[key]
        self.order.remove(key)
        return True

    def resize(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        while len(self.values) > capacity:
            del self.values[self.order.pop(0)]
