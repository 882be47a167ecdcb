"""A correct LRU cache in the textbook style: a dict of key -> node plus a hand-written doubly
linked list with sentinel head and tail nodes (no OrderedDict)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Node(Generic[K, V]):
    __slots__ = ("key", "next", "prev", "value")

    def __init__(self, key: K | None, value: V | None) -> None:
        self.key = key
        self.value = value
        self.prev: _Node[K, V] = self
        self.next: _Node[K, V] = self


class LRUCache(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._nodes: dict[K, _Node[K, V]] = {}
        # head.next is the least recently used node, tail.prev the most recently used.
        self._head: _Node[K, V] = _Node(None, None)
        self._tail: _Node[K, V] = _Node(None, None)
        self._head.next, self._tail.prev = self._tail, self._head

    def _unlink(self, node: _Node[K, V]) -> None:
        node.prev.next, node.next.prev = node.next, node.prev

    def _append(self, node: _Node[K, V]) -> None:
        last = self._tail.prev
        last.next, node.prev, node.next, self._tail.prev = node, last, self._tail, node

    def _evict(self) -> None:
        lru = self._head.next
        self._unlink(lru)
        del self._nodes[lru.key]  # type: ignore[arg-type]

    def get(self, key: K, default: V | None = None) -> V | None:
        node = self._nodes.get(key)
        if node is None:
            return default
        self._unlink(node)
        self._append(node)
        return node.value

    def put(self, key: K, value: V) -> None:
        node = self._nodes.get(key)
        if node is not None:
            node.value = value
            self._unlink(node)
            self._append(node)
            return
        if len(self._nodes) >= self._capacity:
            self._evict()
        node = _Node(key, value)
        self._nodes[key] = node
        self._append(node)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, key: object) -> bool:
        return key in self._nodes

    def delete(self, key: K) -> bool:
        node = self._nodes.pop(key, None)
        if node is None:
            return False
        self._unlink(node)
        return True

    def resize(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        while len(self._nodes) > capacity:
            self._evict()
